# -----------------------------------------------------------------------------
# Build artifacts (`make build` output)
# -----------------------------------------------------------------------------

locals {
  # A release archive (`make release`) carries the build next to the module.
  artifacts_dir           = coalesce(var.artifacts_dir, "${path.module}/artifacts")
  artifacts_manifest_path = "${local.artifacts_dir}/manifest.json"
  # Checked at plan time (precondition on the layer), not by `terraform validate`, so that
  # CI can validate before building.
  artifacts_found = fileexists(local.artifacts_manifest_path)
  artifacts       = try(jsondecode(file(local.artifacts_manifest_path)), {})

  artifacts_runtime      = try(local.artifacts.runtime, "unknown")
  artifacts_architecture = try(local.artifacts.architecture, "unknown")
  rebuild_hint           = "rerun `make build RUNTIME=${var.lambda_runtime} ARCH=${var.lambda_architecture}` and plan again"
}

# -----------------------------------------------------------------------------
# Shared layer (the core package and third-party dependencies)
# -----------------------------------------------------------------------------

resource "aws_lambda_layer_version" "this" {
  layer_name               = "${local.name}-core"
  description              = "wscore and dependencies for ${var.lambda_runtime}/${var.lambda_architecture}"
  filename                 = "${local.artifacts_dir}/${try(local.artifacts.layer.file, "layer.zip")}"
  source_code_hash         = try(local.artifacts.layer.sha256_base64, null)
  compatible_runtimes      = [var.lambda_runtime]
  compatible_architectures = [var.lambda_architecture]

  lifecycle {
    precondition {
      condition     = local.artifacts_found
      error_message = "${local.artifacts_manifest_path} does not exist: run `make build RUNTIME=${var.lambda_runtime} ARCH=${var.lambda_architecture}` and point artifacts_dir at its output directory, or use a release archive of the module (`make release`), which carries them."
    }
    precondition {
      condition     = !local.artifacts_found || (local.artifacts_runtime == var.lambda_runtime && local.artifacts_architecture == var.lambda_architecture)
      error_message = "The artifacts in ${local.artifacts_dir} were built for ${local.artifacts_runtime}/${local.artifacts_architecture} but the module deploys ${var.lambda_runtime}/${var.lambda_architecture}: ${local.rebuild_hint}."
    }
    precondition {
      condition     = !local.artifacts_found || (can(local.artifacts.layer.file) && can(local.artifacts.layer.sha256_base64))
      error_message = "${local.artifacts_manifest_path} names no layer file and hash: ${local.rebuild_hint}."
    }
    # TRACING_ENABLED=true imports the X-Ray SDK at cold start: a layer without it would
    # make every function fail to start.
    precondition {
      condition     = !var.xray_sdk_enabled || !local.artifacts_found || try(local.artifacts.xray_sdk, false) == true
      error_message = "xray_sdk_enabled = true needs the AWS X-Ray SDK in the layer, and ${local.artifacts_manifest_path} records a build without it: run `make build RUNTIME=${var.lambda_runtime} ARCH=${var.lambda_architecture} XRAY_SDK=true` (or set xray_sdk_enabled = false)."
    }
    precondition {
      condition     = length(setsubtract(toset(keys(var.function_overrides)), toset(keys(local.functions)))) == 0
      error_message = "function_overrides keys must be manifest function names: ${join(", ", sort(keys(local.functions)))}."
    }
  }
}

# -----------------------------------------------------------------------------
# Functions (one per manifest entry)
# -----------------------------------------------------------------------------

locals {
  # Environment per function, derived from what the manifest says the function does.
  function_environment = {
    for name, f in local.functions : name => merge(
      {
        LOG_LEVEL       = var.log_level
        TRACING_ENABLED = tostring(var.xray_sdk_enabled)
        # Embedded metrics: one namespace, and dimensions that tell deployments apart.
        METRIC_NAMESPACE = var.metrics_namespace
        METRIC_PROJECT   = var.project
        METRIC_ENV       = var.env
      },
      f.dynamodb == "none" ? {} : {
        TABLE_NAME                = aws_dynamodb_table.this.name
        CONNECTION_TTL_SECONDS    = tostring(var.connection.ttl_seconds)
        MAX_CONNECTION_SECONDS    = tostring(var.connection.max_seconds)
        HISTORY_RETENTION_SECONDS = tostring(var.history_retention_seconds)
        # Presence transitions happen wherever a membership is removed (leave, disconnect,
        # pruning, TTL cleanup, refresh), so every table function knows the threshold.
        PRESENCE_COALESCE_THRESHOLD = tostring(var.presence.coalesce_threshold)
        PRESENCE_INTERVAL_SECONDS   = tostring(var.presence.interval_seconds)
      },
      length(f.manage_connections) == 0 ? {} : { MANAGEMENT_ENDPOINT = local.management_base },
      { for q in f.sqs_send : local.manifest.queues[q].env => aws_sqs_queue.this[q].url },
      contains(f.sqs_send, "fanout") ? { FANOUT_THRESHOLD = tostring(var.fanout_threshold) } : {},
      f.jwt_secret ? local.jwt_environment : {},
      f.rate_limits ? local.rate_limit_environment : {},
    )
  }

  # sendMessage's limits (docs/ARCHITECTURE.md, "Rate limits"); 0 per second turns one off.
  rate_limit_environment = merge(
    {
      RATE_LIMIT_CONNECTION_PER_SECOND = tostring(var.rate_limit_per_connection.per_second)
      RATE_LIMIT_CONNECTION_BURST      = tostring(var.rate_limit_per_connection.burst)
      RATE_LIMIT_TENANT_PER_SECOND     = tostring(var.rate_limit_per_tenant.per_second)
      RATE_LIMIT_TENANT_BURST          = tostring(var.rate_limit_per_tenant.burst)
    },
    length(var.tenant_rate_limits) == 0 ? {} : {
      TENANT_RATE_LIMITS = jsonencode({
        for tenant, limit in var.tenant_rate_limits : tenant => { perSecond = limit.per_second, burst = limit.burst }
      })
    },
  )
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name = "${local.name}-${each.key}"
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn
  handler       = each.value.handler
  runtime       = var.lambda_runtime
  architectures = [var.lambda_architecture]
  memory_size   = each.value.memory_mb
  timeout       = each.value.timeout_s
  layers        = [aws_lambda_layer_version.this.arn]

  filename         = "${local.artifacts_dir}/${try(local.artifacts.functions[each.key].file, "functions/${each.key}.zip")}"
  source_code_hash = try(local.artifacts.functions[each.key].sha256_base64, null)

  reserved_concurrent_executions = each.value.reserved_concurrency

  # SnapStart (opt-in): Lambda initialises a published version once and resumes new
  # execution environments from its snapshot; every caller then invokes the "live" alias.
  publish = var.snap_start_enabled
  dynamic "snap_start" {
    for_each = var.snap_start_enabled ? [1] : []
    content {
      apply_on = "PublishedVersions"
    }
  }

  tracing_config {
    mode = "Active"
  }

  # One logging path: the functions write one JSON object per line themselves (wscore.logs,
  # level from LOG_LEVEL, request id, cold start, function name) and their EMF metric lines
  # whatever the level. Text format keeps Lambda from re-wrapping those lines or filtering
  # them by a `level` field (it would file the level-less metric lines as INFO and drop
  # them at WARN); Lambda's own START/END/REPORT lines stay plain text.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  environment {
    variables = local.function_environment[each.key]
  }

  tags = local.tags

  # The role's policy and the log group must exist before the first invocation.
  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.api_and_stream, aws_cloudwatch_log_group.function]

  lifecycle {
    precondition {
      condition     = !local.artifacts_found || (can(local.artifacts.functions[each.key].file) && can(local.artifacts.functions[each.key].sha256_base64))
      error_message = "${local.artifacts_manifest_path} has no artifact for function ${each.key}: ${local.rebuild_hint}."
    }
    precondition {
      condition     = length("${local.name}-${each.key}") <= 64
      error_message = "Function name ${local.name}-${each.key} exceeds Lambda's 64 characters: shorten project or env."
    }
    precondition {
      condition     = each.value.route == null || each.value.timeout_s <= 29
      error_message = "${each.key} serves route ${coalesce(each.value.route, "-")}: API Gateway integrations time out after 29 s, so its timeout must be at most 29 s."
    }
    precondition {
      condition     = !var.snap_start_enabled || contains(["python3.12", "python3.13", "python3.14"], var.lambda_runtime)
      error_message = "snap_start_enabled needs a Python runtime that supports SnapStart (python3.12 or later), not ${var.lambda_runtime}."
    }
    precondition {
      condition     = each.value.reserved_concurrency == null || each.value.maximum_concurrency == null || try(each.value.reserved_concurrency >= each.value.maximum_concurrency, false)
      error_message = "${each.key}: reserved_concurrency must not be below the SQS event source's maximum_concurrency (${coalesce(each.value.maximum_concurrency, 0)}), or the poller is throttled."
    }
  }
}

# -----------------------------------------------------------------------------
# What callers invoke: the function, or with SnapStart its "live" alias
# -----------------------------------------------------------------------------

# $LATEST has no snapshot: with SnapStart the integrations, the authorizer, the event source
# mappings and the outputs all point at an alias that follows each newly published version.
resource "aws_lambda_alias" "live" {
  for_each = var.snap_start_enabled ? local.functions : {}

  name             = local.snap_start_alias
  description      = "The published version callers invoke (SnapStart)"
  function_name    = aws_lambda_function.this[each.key].function_name
  function_version = aws_lambda_function.this[each.key].version
}

locals {
  snap_start_alias   = "live"
  function_qualifier = var.snap_start_enabled ? local.snap_start_alias : null
  function_invoke_arn = {
    for name in keys(local.functions) :
    name => var.snap_start_enabled ? aws_lambda_alias.live[name].invoke_arn : aws_lambda_function.this[name].invoke_arn
  }
  # The ARN to invoke, subscribe or grant: the alias's (qualified) or the function's.
  function_target_arn = {
    for name in keys(local.functions) :
    name => var.snap_start_enabled ? aws_lambda_alias.live[name].arn : aws_lambda_function.this[name].arn
  }
}

# -----------------------------------------------------------------------------
# Reserved concurrency against the account's quota
# -----------------------------------------------------------------------------

locals {
  reserved_concurrency_total = sum(concat([0], [for f in values(local.functions) : coalesce(f.reserved_concurrency, 0)]))
}

# Lambda refuses a reservation that would leave fewer than 100 unreserved executions in
# the account and region; new accounts often start with a quota of 10, not 1,000. A check
# (a plan-time warning, not an error: the deployer may lack servicequotas:GetServiceQuota)
# compares this module's reservations with the applied "Concurrent executions" quota.
# Reservations made by other stacks in the same account are not visible here: compare
# `aws lambda get-account-settings` (UnreservedConcurrentExecutions) before applying.
check "lambda_concurrency_quota" {
  data "aws_servicequotas_service_quota" "lambda_concurrency" {
    service_code = "lambda"
    quota_code   = "L-B99A9384" # Concurrent executions
  }

  assert {
    condition     = local.reserved_concurrency_total == 0 || data.aws_servicequotas_service_quota.lambda_concurrency.value - local.reserved_concurrency_total >= 100
    error_message = "function_overrides reserve ${local.reserved_concurrency_total} concurrent executions, but the account's Lambda concurrency quota in this region is ${data.aws_servicequotas_service_quota.lambda_concurrency.value}: Lambda keeps 100 unreserved, so the apply would fail. Request a quota of at least ${local.reserved_concurrency_total + 100} (Service Quotas, Lambda, \"Concurrent executions\", L-B99A9384) or lower reserved_concurrency."
  }
}

# -----------------------------------------------------------------------------
# Event source mappings: SQS consumers and the table stream
# -----------------------------------------------------------------------------

resource "aws_lambda_event_source_mapping" "sqs" {
  for_each = { for name, f in local.functions : name => f if f.consumes_queue != null }

  function_name    = local.function_target_arn[each.key]
  event_source_arn = aws_sqs_queue.this[each.value.consumes_queue].arn
  batch_size       = each.value.batch_size

  # The worker returns batchItemFailures: only the failed messages are retried.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = each.value.maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = try(each.value.maximum_concurrency >= 2 && each.value.maximum_concurrency <= 1000, false)
      error_message = "manifest.json: ${each.key}.maximum_concurrency must be between 2 and 1000 (SQS event source limit)."
    }
  }
}

resource "aws_lambda_event_source_mapping" "stream" {
  for_each = { for name, f in local.functions : name => f if f.reads_stream }

  function_name          = local.function_target_arn[each.key]
  event_source_arn       = aws_dynamodb_table.this.stream_arn
  starting_position      = "LATEST"
  batch_size             = each.value.batch_size
  maximum_retry_attempts = each.value.max_retry_attempts

  # A poison record is isolated by halving the batch, then parked after bounded retries.
  bisect_batch_on_function_error = true

  # The handler returns the sequence number of the first record it could not clean up,
  # so the records before it are checkpointed and not replayed.
  function_response_types = ["ReportBatchItemFailures"]

  # Only TTL deletions (performed by the DynamoDB service) reach the function;
  # user-initiated REMOVEs are cleaned up by the handler that issued them.
  filter_criteria {
    filter {
      pattern = jsonencode(local.manifest.stream_filter)
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.stream_dlq.arn
    }
  }
}
