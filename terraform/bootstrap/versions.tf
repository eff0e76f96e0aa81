# -----------------------------------------------------------------------------
# Versions and state backend
# -----------------------------------------------------------------------------

terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.69.1, < 7.0.0"
    }
  }

  # Partial configuration, as in dev/ and prod/: its own state key per account and region
  # (copy backend.hcl.example to backend.hcl), never shared with an environment.
  backend "s3" {}
}
