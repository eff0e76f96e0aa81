# -----------------------------------------------------------------------------
# Development environment: cheap, disposable, verbose
# -----------------------------------------------------------------------------

locals {
  env           = "dev"
  artifacts_dir = coalesce(var.artifacts_dir, "${path.root}/../../build")
}

module "websocket_api" {
  source = "../../modules/websocket_api"

  project       = var.project
  env           = local.env
  artifacts_dir = local.artifacts_dir

  jwt = {
    algorithm  = "HS256"
    secret_arn = var.jwt_secret_arn
    issuer     = var.jwt_issuer
    audience   = var.jwt_audience
  }
  allowed_origins = var.allowed_origins

  log_level          = "DEBUG"
  log_retention_days = 14

  stage_throttling = { burst_limit = 100, rate_limit = 50 }

  # Throw-away data: allow `terraform destroy`.
  table_deletion_protection = false

  # Errors still show in the console; nobody is paged for dev.
  alarms = { enabled = false }
}
