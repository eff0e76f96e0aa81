# -----------------------------------------------------------------------------
# Log groups (functions and API access logs)
# -----------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${local.name}-websocket/access"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

# API Gateway writes execution logs (stage_logging_level) to this group, and creates it
# itself, with no retention and outside Terraform (left behind by a destroy), if it does
# not exist when the stage first logs. Created here first, with the configured retention.
resource "aws_cloudwatch_log_group" "execution" {
  name              = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this.id}/${local.stage_name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

locals {
  # $context fields only: the query string (which carries the JWT) is never logged, and
  # neither are message bodies or authorizer context values.
  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTime        = "$context.requestTime"
    connectionId       = "$context.connectionId"
    routeKey           = "$context.routeKey"
    eventType          = "$context.eventType"
    messageDirection   = "$context.messageDirection"
    status             = "$context.status"
    ip                 = "$context.identity.sourceIp"
    userAgent          = "$context.identity.userAgent"
    errorMessage       = "$context.error.message"
    errorResponseType  = "$context.error.responseType"
    authorizerStatus   = "$context.authorizer.status"
    authorizerLatency  = "$context.authorizer.latency"
    authorizerError    = "$context.authorizer.error"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    integrationError   = "$context.integration.error"
  })
}

# -----------------------------------------------------------------------------
# Alarms (optional SNS topic for notifications)
# -----------------------------------------------------------------------------
#
# Each alarm pages for something an on-call engineer must act on, and its description
# says what to do; the dashboard (dashboard.tf) shows the same signals. Client mistakes
# (bad or expired tokens, invalid frames) page nobody.

locals {
  alarm_actions = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]
  dashboard_url = "https://console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${local.dashboard_name}"
  runbook       = var.dashboard_enabled ? " Dashboard: ${local.dashboard_url}" : ""

  # Every DLQ: the queues' own and the stream's on-failure destination.
  dead_letter_queues = var.alarms.enabled ? merge(
    { for name, q in aws_sqs_queue.dlq : name => q.name },
    { stream = aws_sqs_queue.stream_dlq.name },
  ) : {}
  dlq_sources = merge(
    { for name, q in local.queues : name => "the ${name} queue (consumer ${local.name}-${q.consumer}) after ${q.max_receive_count} failed receives" },
    { stream = "the table stream (consumer ${local.name}-${coalesce(local.stream_function, "-")}) after its retries: the messages hold the failed batch's shard and sequence numbers, not the items" },
  )
  alarmed_functions = var.alarms.enabled ? local.functions : {}

  # WebSocket APIs publish no 5XXError metric: server-side failures show up as
  # IntegrationError (the Lambda failed or timed out) and ExecutionError (API Gateway).
  api_error_metrics = var.alarms.enabled ? {
    integration = {
      metric = "IntegrationError"
      action = "a route's function failed, timed out or returned an invalid response. Find the route in the dashboard's route errors, then that function's log group (Logs Insights: filter level = \"ERROR\"); roll back a recent deploy if it started with one."
    }
    execution = {
      metric = "ExecutionError"
      action = "API Gateway itself failed to run the route (often: the function's invoke permission or the integration is broken after a change). Check the stage's execution log group ${aws_cloudwatch_log_group.execution.name} and the AWS Health Dashboard."
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = local.dead_letter_queues

  alarm_name          = "${local.name}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages reached the ${each.key} dead-letter queue ${each.value}, from ${local.dlq_sources[each.key]}. Read a few (aws sqs receive-message), find the cause in the consumer's log group, fix it, then redrive (aws sqs start-message-move-task --source-arn <DLQ ARN>) or purge them.${local.runbook}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Broadcasts to large rooms wait in the fan-out queue: an old message means members
# receive late, whatever the errors say (throttled or failing worker, or a backlog).
resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = var.alarms.enabled ? local.queues : {}

  alarm_name          = "${local.name}-${each.key}-queue-delayed"
  alarm_description   = "The oldest message in the ${each.key} queue is older than ${var.alarms.queue_age_seconds} s: deliveries through ${local.name}-${each.value.consumer} are late. Check its throttles and errors on the dashboard; raise its reserved concurrency or the event source's maximum_concurrency if it is throttled, fix the error if it fails.${local.runbook}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this[each.key].name }
  statistic           = "Maximum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.queue_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# One alarm per function and metric: failed invocations at the configured threshold, and
# any throttle (reserved or account concurrency). The authorizer's Errors also count every
# 401 (Lambda has no other way to answer one), so it has its own alarms below instead.
locals {
  function_alarm_metrics = {
    errors = {
      metric_name         = "Errors"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = var.alarms.function_errors_threshold
      what                = "failed (exceptions, timeouts, out of memory). Open the function's log group (Logs Insights: filter level = \"ERROR\") to see which; a recent deploy is the usual cause: roll it back."
    }
    throttles = {
      metric_name         = "Throttles"
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0
      what                = "were throttled: requests were refused or delayed. Compare ConcurrentExecutions with its reserved concurrency (function_overrides) and the account's Lambda quota; raise whichever is the limit."
    }
  }
  # "<function>-<metric>" (publish-errors, publish-throttles, ...): the alarm name's suffix.
  function_alarms = {
    for pair in setproduct(keys(local.alarmed_functions), keys(local.function_alarm_metrics)) :
    "${pair[0]}-${pair[1]}" => merge(local.function_alarm_metrics[pair[1]], { function = pair[0] })
    if !(pair[0] == local.authorizer_function && pair[1] == "errors")
  }

  # The authorizer's own metrics (wscore.logs.metric, handlers/authorizer.py).
  metric_dimensions = { Project = var.project, Env = var.env }
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = local.function_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = "Invocations of ${local.name}-${each.value.function} ${each.value.what}${local.runbook}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric_name
  dimensions          = { FunctionName = aws_lambda_function.this[each.value.function].function_name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = each.value.comparison_operator
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Outage: the authorizer could not check tokens at all (secret store or JWKS unreachable,
# configuration error). Every connection attempt fails with 500 meanwhile.
resource "aws_cloudwatch_metric_alarm" "authorizer_unavailable" {
  count = var.alarms.enabled ? 1 : 0

  alarm_name          = "${local.name}-authorizer-unavailable"
  alarm_description   = "The authorizer could not verify tokens (AuthorizerUnavailable: reason secret_unavailable, jwks_unavailable or config_error in ${aws_cloudwatch_log_group.function[local.authorizer_function].name}): new connections fail. secret_unavailable: check the secret exists and the role may read it (and decrypt it); jwks_unavailable: check the identity provider's JWKS URL; config_error: fix the JWT_* settings named in the log. Rejected tokens (401) are client mistakes and do not raise this.${local.runbook}"
  namespace           = var.metrics_namespace
  metric_name         = "AuthorizerUnavailable"
  dimensions          = local.metric_dimensions
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Failures the authorizer did not report itself: timeouts, crashes, out of memory.
# Errors minus the 401s and the outages the code counted.
resource "aws_cloudwatch_metric_alarm" "authorizer_failures" {
  count = var.alarms.enabled ? 1 : 0

  alarm_name          = "${local.name}-authorizer-errors"
  alarm_description   = "Invocations of ${local.name}-${local.authorizer_function} failed without rejecting a token or reporting an outage (timeouts, crashes, out of memory): open its log group ${aws_cloudwatch_log_group.function[local.authorizer_function].name}; a recent deploy is the usual cause. Rejected tokens (AuthorizerRejected) are not counted here.${local.runbook}"
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarms.function_errors_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "unexplained"
    label       = "Authorizer errors that are neither rejections nor reported outages"
    expression  = "FILL(errors, 0) - FILL(rejected, 0) - FILL(unavailable, 0)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.this[local.authorizer_function].function_name }
      period      = var.alarms.period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "rejected"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "AuthorizerRejected"
      dimensions  = local.metric_dimensions
      period      = var.alarms.period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "unavailable"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "AuthorizerUnavailable"
      dimensions  = local.metric_dimensions
      period      = var.alarms.period_seconds
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_errors" {
  for_each = local.api_error_metrics

  alarm_name          = "${local.name}-websocket-${each.key}-errors"
  alarm_description   = "The WebSocket API reported ${each.value.metric}s (5xx-class failures) on stage ${local.stage_name}: ${each.value.action}${local.runbook}"
  namespace           = "AWS/ApiGateway"
  metric_name         = each.value.metric
  dimensions          = { ApiId = aws_apigatewayv2_api.this.id, Stage = aws_apigatewayv2_stage.this.name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarms.api_errors_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# -----------------------------------------------------------------------------
# Moved addresses: the errors and throttles alarms were two resources keyed by function
# (function_errors, function_throttles). moved blocks take literal addresses only, hence
# one per function and metric; deployments from before keep their alarms.
# -----------------------------------------------------------------------------

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["authorizer"]
  to   = aws_cloudwatch_metric_alarm.function["authorizer-errors"]
}

# The authorizer's errors alarm (same name) now subtracts rejected tokens: moved, not
# replaced, so that no apply deletes the alarm it has just written under the same name.
moved {
  from = aws_cloudwatch_metric_alarm.function["authorizer-errors"]
  to   = aws_cloudwatch_metric_alarm.authorizer_failures[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["connect"]
  to   = aws_cloudwatch_metric_alarm.function["connect-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["default"]
  to   = aws_cloudwatch_metric_alarm.function["default-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["disconnect"]
  to   = aws_cloudwatch_metric_alarm.function["disconnect-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["fanout_worker"]
  to   = aws_cloudwatch_metric_alarm.function["fanout_worker-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["get_presence"]
  to   = aws_cloudwatch_metric_alarm.function["get_presence-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["heartbeat"]
  to   = aws_cloudwatch_metric_alarm.function["heartbeat-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["join_room"]
  to   = aws_cloudwatch_metric_alarm.function["join_room-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["leave_room"]
  to   = aws_cloudwatch_metric_alarm.function["leave_room-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["publish"]
  to   = aws_cloudwatch_metric_alarm.function["publish-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["send_message"]
  to   = aws_cloudwatch_metric_alarm.function["send_message-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["stream_cleanup"]
  to   = aws_cloudwatch_metric_alarm.function["stream_cleanup-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["authorizer"]
  to   = aws_cloudwatch_metric_alarm.function["authorizer-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["connect"]
  to   = aws_cloudwatch_metric_alarm.function["connect-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["default"]
  to   = aws_cloudwatch_metric_alarm.function["default-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["disconnect"]
  to   = aws_cloudwatch_metric_alarm.function["disconnect-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["fanout_worker"]
  to   = aws_cloudwatch_metric_alarm.function["fanout_worker-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["get_presence"]
  to   = aws_cloudwatch_metric_alarm.function["get_presence-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["heartbeat"]
  to   = aws_cloudwatch_metric_alarm.function["heartbeat-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["join_room"]
  to   = aws_cloudwatch_metric_alarm.function["join_room-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["leave_room"]
  to   = aws_cloudwatch_metric_alarm.function["leave_room-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["publish"]
  to   = aws_cloudwatch_metric_alarm.function["publish-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["send_message"]
  to   = aws_cloudwatch_metric_alarm.function["send_message-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["stream_cleanup"]
  to   = aws_cloudwatch_metric_alarm.function["stream_cleanup-throttles"]
}
