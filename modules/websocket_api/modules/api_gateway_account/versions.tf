terraform {
  # 1.7: removed blocks and mock providers, as in the parent module.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The version the offline checks validate against (tools/terraform/toolchain.py).
      version = ">= 6.69.1"
    }
  }
}
