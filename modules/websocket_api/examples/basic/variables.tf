variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1."
  }
}

variable "user_pool_id" {
  description = "Cognito user pool that issues the client tokens."
  type        = string
  default     = "eu-west-1_EXAMPLE"
}

variable "app_client_id" {
  description = "Cognito app client id (the tokens' audience)."
  type        = string
  default     = "example-app-client-id"
}

variable "search_function_arn" {
  description = "ARN of your own Lambda that serves the searchMessages action (null = no extra route)."
  type        = string
  default     = null
}

variable "artifacts_dir" {
  description = "Output directory of `make build`; null = the repository's build/."
  type        = string
  default     = null
}
