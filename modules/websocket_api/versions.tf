# -----------------------------------------------------------------------------
# Versions: floors only; environment roots bound the major version and keep a lock file.
# -----------------------------------------------------------------------------

terraform {
  # 1.7: mock providers for `terraform test`; optional() defaults; check blocks.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The version the offline checks validate against (tools/terraform/toolchain.py):
      # earlier 6.x releases reject runtime python3.14, which this module accepts.
      version = ">= 6.69.1"
    }
  }
}
