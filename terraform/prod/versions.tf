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

  # Partial configuration: the bucket, key, region and lock settings are given at init, so
  # that no account-specific value is committed:
  #   terraform init -backend-config=backend.hcl      (copy backend.hcl.example)
  # `terraform init` writes .terraform.lock.hcl: commit it so every run uses the same
  # provider build. Offline checks use `init -backend=false` and never write it here.
  backend "s3" {}
}
