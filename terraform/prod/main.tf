# -----------------------------------------------------------------------------
# Production environment: protected data, longer retention, more headroom, paging
# -----------------------------------------------------------------------------

locals {
  env           = "prod"
  artifacts_dir = coalesce(var.artifacts_dir, "${path.root}/../../build")
}

# Alarm notifications. Subscribe the on-call channel (email, chat, pager) to this topic.
resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch cannot publish to a topic encrypted with the AWS managed key; the messages carry alarm names only
  name = "${var.project}-${local.env}-websocket-alarms"
}

module "websocket_api" {
  source = "../../modules/websocket_api"

  project       = var.project
  env           = local.env
  artifacts_dir = local.artifacts_dir

  jwt = {
    algorithm    = var.jwt_algorithm
    jwks_url     = var.jwt_jwks_url
    issuer       = var.jwt_issuer
    audience     = var.jwt_audience
    tenant_claim = var.jwt_tenant_claim
  }
  allowed_origins = var.allowed_origins

  log_level          = "INFO"
  log_retention_days = 365

  # Leave room in the account's 10,000 rps budget for the @connections calls that
  # every broadcast makes.
  stage_throttling         = { burst_limit = 2000, rate_limit = 1000 }
  route_throttling         = { sendMessage = { burst_limit = 1000, rate_limit = 500 } }
  detailed_metrics_enabled = true

  # More memory (and CPU) for the broadcast paths; reserved concurrency keeps the
  # background consumers from starving the connection handlers (and vice versa).
  function_overrides = {
    send_message   = { memory_mb = 1024 }
    fanout_worker  = { memory_mb = 1024, reserved_concurrency = 40 }
    publish        = { memory_mb = 1024, reserved_concurrency = 20 }
    stream_cleanup = { reserved_concurrency = 10 }
    authorizer     = { memory_mb = 512 }
  }

  table_deletion_protection = true
  kms_key_arn               = var.kms_key_arn

  alarms = {
    sns_topic_arn      = aws_sns_topic.alarms.arn
    period_seconds     = 60
    evaluation_periods = 3
  }

  custom_domain = var.custom_domain
}
