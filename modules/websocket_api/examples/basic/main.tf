# -----------------------------------------------------------------------------
# Consumer example: the platform plus one route served by the consumer's own Lambda
# -----------------------------------------------------------------------------
#
# From another repository, use a release archive instead of "../.." (`make release`: the
# module and its built artifacts, so no artifacts_dir and no build):
#   source = "https://releases.example.com/websocket_api-0.2.0-python3.13-arm64.tar.gz"
#
# Prerequisite, once per account and region and NOT in this throw-away root: API Gateway's
# CloudWatch Logs role (modules/api_gateway_account, e.g. terraform/bootstrap). Without it
# the plan warns (check.api_gateway_account) and creating the stage would fail.

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "chat-example", ManagedBy = "terraform" }
  }
}

module "websocket_api" {
  source = "../.."

  project       = "chatex"
  env           = "demo"
  artifacts_dir = coalesce(var.artifacts_dir, "${path.root}/../../../../build")

  jwt = {
    algorithm = "RS256"
    jwks_url  = "https://cognito-idp.${var.region}.amazonaws.com/${var.user_pool_id}/.well-known/jwks.json"
    issuer    = "https://cognito-idp.${var.region}.amazonaws.com/${var.user_pool_id}"
    audience  = var.app_client_id
    # Cognito carries custom attributes under the custom: prefix.
    tenant_claim = "custom:tenant_id"
  }

  # `{"action": "searchMessages", ...}` frames go to the consumer's own function; two_way =
  # true sends its return value back to the caller as the reply frame. (getHistory is a
  # built-in route since protocol v1.1: a consumer route may not shadow a built-in one.)
  consumer_routes = var.search_function_arn == null ? {} : {
    searchMessages = { function_arn = var.search_function_arn, two_way = true }
  }

  # Keep the example cheap to throw away.
  table_deletion_protection = false
  log_retention_days        = 7
}
