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

variable "jwt_algorithm" {
  description = "RS256 or ES256 (tokens from your identity provider, verified against its JWKS)."
  type        = string
  default     = "RS256"
}

variable "jwt_jwks_url" {
  description = "JWKS URL of the identity provider (e.g. https://cognito-idp.REGION.amazonaws.com/POOL/.well-known/jwks.json)."
  type        = string
}

variable "jwt_issuer" {
  description = "Required `iss` claim of client tokens."
  type        = string
}

variable "jwt_audience" {
  description = "Required `aud` claim of client tokens."
  type        = string
}

variable "jwt_tenant_claim" {
  description = "Claim that carries the tenant id (Cognito custom attributes look like custom:tenant_id)."
  type        = string
  default     = "tenant_id"
}

variable "allowed_origins" {
  description = "Origins browsers may connect from (empty = no Origin check)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Optional customer managed KMS key for the table and queues (null = AWS managed encryption)."
  type        = string
  default     = null
}

variable "custom_domain" {
  description = "Optional custom domain: { domain_name, certificate_arn (regional ACM, same region), mapping_key }."
  type = object({
    domain_name     = string
    certificate_arn = string
    mapping_key     = optional(string)
  })
  default = null
}
