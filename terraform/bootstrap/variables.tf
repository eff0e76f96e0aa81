# -----------------------------------------------------------------------------
# Inputs (values in terraform.tfvars)
# -----------------------------------------------------------------------------

variable "region" {
  description = "AWS region to bootstrap (one apply of this root per account and region)."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1."
  }
}
