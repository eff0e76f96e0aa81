# -----------------------------------------------------------------------------
# Versions: floors only; environment roots pin with `~>` and keep a lock file.
# -----------------------------------------------------------------------------

terraform {
  # 1.7: mock providers for `terraform test`; optional() defaults; check blocks.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}
