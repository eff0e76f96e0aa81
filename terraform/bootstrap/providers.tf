# -----------------------------------------------------------------------------
# Provider
# -----------------------------------------------------------------------------

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy  = "terraform"
      Repository = "serverless-websockets"
      Purpose    = "account-bootstrap"
    }
  }
}
