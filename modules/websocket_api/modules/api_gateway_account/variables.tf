variable "role_name_prefix" {
  description = "First part of the IAM role's name; the region is appended (\"<prefix>-<region>\"), because IAM names are global to the account and every region needs its own registration."
  type        = string
  default     = "apigateway-cloudwatch-logs"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,40}$", var.role_name_prefix))
    error_message = "role_name_prefix must be 1-40 characters of letters, digits and + = , . @ _ - (IAM role names allow 64, and the region takes up to 15 more plus a hyphen)."
  }
}

variable "tags" {
  description = "Tags on the IAM role (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}
