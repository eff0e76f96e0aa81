# -----------------------------------------------------------------------------
# Manifest and derived settings (the single source of truth)
# -----------------------------------------------------------------------------

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  # Functions, routes, permissions, table and queues come from this file; the local gateway
  # reads the same file, so the two cannot drift. Nothing below restates a route or a key.
  manifest = jsondecode(file("${path.module}/manifest.json"))

  name       = "${var.project}-${var.env}"
  stage_name = coalesce(var.stage_name, var.env)
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  tags = merge(var.tags, { "websocket-api:project" = var.project, "websocket-api:env" = var.env })

  # One normalised object per manifest function, with the consumer's overrides applied.
  functions = {
    for name, f in local.manifest.functions : name => {
      handler              = f.handler
      description          = f.description
      route                = try(f.route, null)
      two_way              = try(f.two_way, false)
      source               = try(f.source, null)
      memory_mb            = coalesce(try(var.function_overrides[name].memory_mb, null), f.memory_mb)
      timeout_s            = coalesce(try(var.function_overrides[name].timeout_s, null), f.timeout_s)
      reserved_concurrency = try(var.function_overrides[name].reserved_concurrency, null)
      dynamodb             = f.dynamodb
      manage_connections   = toset([for m in f.manage_connections : upper(m)])
      sqs_send             = toset([for q in f.sqs_send : q])
      jwt_secret           = try(f.jwt_secret, false)
      rate_limits          = try(f.rate_limits, false)
      batch_size           = try(f.batch_size, null)
      maximum_concurrency  = try(f.maximum_concurrency, null)
      max_retry_attempts   = try(f.maximum_retry_attempts, null)
      # "sqs:<queue>" -> the queue this function consumes
      consumes_queue = startswith(try(f.source, ""), "sqs:") ? trimprefix(f.source, "sqs:") : null
      reads_stream   = try(f.source, "") == "dynamodb-stream"
    }
  }

  # The authorizer verifies tokens on $connect; refresh_token verifies them too, on a route.
  authorizer_function = one([for name, f in local.functions : name if f.jwt_secret && f.route == null])
  stream_function     = one([for name, f in local.functions : name if f.reads_stream])

  # Every route: the manifest's (served by this module's functions) and the consumer's.
  manifest_routes = {
    for name, f in local.functions : f.route => {
      function   = name
      invoke_arn = local.function_invoke_arn[name]
      function_n = aws_lambda_function.this[name].function_name
      qualifier  = local.function_qualifier
      two_way    = f.two_way
      account    = local.account_id
    } if f.route != null
  }
  consumer_routes = {
    for key, r in var.consumer_routes : key => {
      function   = null
      invoke_arn = "arn:${local.partition}:apigateway:${local.region}:lambda:path/2015-03-31/functions/${r.function_arn}/invocations"
      function_n = r.function_arn
      qualifier  = null # an alias ARN carries its own qualifier
      two_way    = r.two_way
      account    = split(":", r.function_arn)[4]
    }
  }
  routes         = merge(local.consumer_routes, local.manifest_routes)
  manifest_keys  = toset([for f in values(local.functions) : f.route if f.route != null])
  two_way_routes = toset([for key, r in local.routes : key if r.two_way])
  all_route_keys = toset(keys(local.routes))
  connect_route  = "$connect"
  # The @connections endpoint is the API's own endpoint over https: its DNS suffix is the
  # partition's (amazonaws.com, amazonaws.com.cn, ...), never assumed here.
  management_base = "${replace(aws_apigatewayv2_api.this.api_endpoint, "/^wss:/", "https:")}/${local.stage_name}"
}

# -----------------------------------------------------------------------------
# WebSocket API
# -----------------------------------------------------------------------------

resource "aws_apigatewayv2_api" "this" {
  name                       = "${local.name}-websocket"
  description                = "WebSocket API of ${var.project} (${var.env})"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = var.route_selection_expression
  tags                       = local.tags

  lifecycle {
    precondition {
      condition     = length(setintersection(toset(keys(var.consumer_routes)), local.manifest_keys)) == 0
      error_message = "consumer_routes must not redefine a route of the module's manifest (${join(", ", sort(local.manifest_keys))})."
    }
  }
}

# -----------------------------------------------------------------------------
# Integrations, routes and route responses (one per route key)
# -----------------------------------------------------------------------------

resource "aws_apigatewayv2_integration" "this" {
  for_each = local.all_route_keys

  api_id             = aws_apigatewayv2_api.this.id
  description        = "Lambda proxy for ${each.key}"
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = local.routes[each.key].invoke_arn
}

resource "aws_apigatewayv2_route" "this" {
  for_each = local.all_route_keys

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"

  # Only $connect can carry an authorizer on a WebSocket API; the identity it returns is
  # attached to the connection and reaches every later route in requestContext.authorizer.
  authorization_type = each.key == local.connect_route ? "CUSTOM" : "NONE"
  authorizer_id      = each.key == local.connect_route ? aws_apigatewayv2_authorizer.this.id : null

  # Two-way routes send the Lambda's return value back to the caller as a reply frame.
  route_response_selection_expression = contains(local.two_way_routes, each.key) ? "$default" : null
}

# With AWS_PROXY integrations the Lambda's response is passed through as is, so a route
# response is all a two-way route needs (integration responses apply to non-proxy types).
resource "aws_apigatewayv2_route_response" "this" {
  for_each = local.two_way_routes

  api_id             = aws_apigatewayv2_api.this.id
  route_id           = aws_apigatewayv2_route.this[each.key].id
  route_response_key = "$default"
}

# Statement ids: at most 100 of [A-Za-z0-9_-]. Route keys may be 128 characters and may
# differ only in characters that are not allowed (a.b and a_b), so the id is a readable,
# truncated head plus a hash of the exact key: valid and unique for every allowed key.
locals {
  route_statement_ids = {
    for key in local.all_route_keys :
    key => "AllowApiGatewayRoute-${substr(replace(key, "/[^A-Za-z0-9_-]/", "_"), 0, 60)}-${substr(sha256(key), 0, 16)}"
  }
}

resource "aws_lambda_permission" "route" {
  for_each = local.all_route_keys

  statement_id  = local.route_statement_ids[each.key]
  action        = "lambda:InvokeFunction"
  function_name = local.routes[each.key].function_n
  qualifier     = local.routes[each.key].qualifier
  principal     = "apigateway.amazonaws.com"
  # Scoped to this API, this stage and this route only.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/${local.stage_name}/${each.key}"

  # A new statement id (e.g. after an upgrade of this module) is added before the old one
  # is removed, so the route is never without its permission.
  lifecycle {
    create_before_destroy = true

    # AddPermission works on functions of the deploying account only: a function in another
    # account would fail at apply (and its owner must grant the invoke permission anyway).
    precondition {
      condition     = local.routes[each.key].account == local.account_id
      error_message = "consumer_routes[\"${each.key}\"].function_arn is in account ${local.routes[each.key].account}, not in ${local.account_id} where this API is deployed: the module cannot grant API Gateway the invoke permission there. Deploy the function (or an alias of a function) in ${local.account_id}."
    }
  }
}

# -----------------------------------------------------------------------------
# Stage (auto-deployed) with throttling and access logs
# -----------------------------------------------------------------------------

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = local.stage_name
  description = "${var.env} stage"
  auto_deploy = true
  tags        = local.tags

  default_route_settings {
    data_trace_enabled       = false
    detailed_metrics_enabled = var.detailed_metrics_enabled
    logging_level            = var.stage_logging_level
    throttling_burst_limit   = var.stage_throttling.burst_limit
    throttling_rate_limit    = var.stage_throttling.rate_limit
  }

  dynamic "route_settings" {
    for_each = var.route_throttling
    content {
      route_key                = route_settings.key
      data_trace_enabled       = false
      detailed_metrics_enabled = var.detailed_metrics_enabled
      logging_level            = var.stage_logging_level
      throttling_burst_limit   = route_settings.value.burst_limit
      throttling_rate_limit    = route_settings.value.rate_limit
    }
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = local.access_log_format
  }

  # route_settings can only name routes that exist. The account's CloudWatch role must be
  # registered before a stage with logging can be created: see check.api_gateway_account.
  # The execution log group must exist before API Gateway creates it itself.
  depends_on = [aws_apigatewayv2_route.this, aws_cloudwatch_log_group.execution]

  lifecycle {
    precondition {
      condition     = length(setsubtract(toset(keys(var.route_throttling)), local.all_route_keys)) == 0
      error_message = "route_throttling keys must be route keys of this API: ${join(", ", sort(local.all_route_keys))}."
    }
  }
}

# -----------------------------------------------------------------------------
# API Gateway's account-level CloudWatch Logs role (registered outside this module)
# -----------------------------------------------------------------------------

locals {
  api_gateway_cloudwatch_role_name = coalesce(var.api_gateway_cloudwatch_role_name, "apigateway-cloudwatch-logs-${local.region}")
}

# The stage's logs need a role registered in the account's API Gateway settings, once per
# account and region (modules/api_gateway_account, applied from terraform/bootstrap).
# Without it the stage create fails at apply with "CloudWatch Logs role ARN must be set in
# account settings". No data source reads that setting, so this checks at plan time that
# the role the bootstrap creates exists and trusts API Gateway: a warning, never an error
# (a deployer without iam:GetRole, or a role registered under another name, still plans).
check "api_gateway_account" {
  data "aws_iam_role" "api_gateway_cloudwatch" {
    name = local.api_gateway_cloudwatch_role_name
  }

  assert {
    condition     = strcontains(data.aws_iam_role.api_gateway_cloudwatch.assume_role_policy, "apigateway.amazonaws.com")
    error_message = "API Gateway's CloudWatch Logs role ${local.api_gateway_cloudwatch_role_name} does not exist or does not trust apigateway.amazonaws.com: creating the stage will fail with \"CloudWatch Logs role ARN must be set in account settings\". Apply modules/websocket_api/modules/api_gateway_account once per account and region (terraform/bootstrap: make plan ENV=bootstrap && make apply ENV=bootstrap), or set api_gateway_cloudwatch_role_name to the role registered there."
  }
}
