# -----------------------------------------------------------------------------
# Inputs (values in terraform.tfvars)
# -----------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1."
  }
}

variable "project" {
  description = "Project name: the first part of every resource name."
  type        = string
}

variable "artifacts_dir" {
  description = "Output directory of `make build`; null = the repository's build/."
  type        = string
  default     = null
}

variable "jwt_issuer" {
  description = "Required `iss` claim of client tokens."
  type        = string
}

variable "jwt_audience" {
  description = "Required `aud` claim of client tokens."
  type        = string
}

variable "jwt_secret_arn" {
  description = "ARN of the HS256 signing key: a Secrets Manager secret or an SSM SecureString parameter, created outside Terraform so that its value never enters the state (see terraform/README.md)."
  type        = string
}

variable "allowed_origins" {
  description = "Origins browsers may connect from (empty = no Origin check)."
  type        = list(string)
  default     = []
}
