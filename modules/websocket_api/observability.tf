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

locals {
  alarm_actions = var.alarms.sns_topic_arn == null ? [] : [var.alarms.sns_topic_arn]

  # Every DLQ: the queues' own and the stream's on-failure destination.
  dead_letter_queues = var.alarms.enabled ? merge(
    { for name, q in aws_sqs_queue.dlq : name => q.name },
    { stream = aws_sqs_queue.stream_dlq.name },
  ) : {}
  alarmed_functions = var.alarms.enabled ? local.functions : {}

  # WebSocket APIs publish no 5XXError metric: server-side failures show up as
  # IntegrationError (the Lambda failed or timed out) and ExecutionError (API Gateway).
  api_error_metrics = var.alarms.enabled ? {
    integration = "IntegrationError"
    execution   = "ExecutionError"
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = local.dead_letter_queues

  alarm_name          = "${local.name}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages reached the ${each.key} dead-letter queue: inspect them and redrive."
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

# One alarm per function and metric: failed invocations at the configured threshold, and
# any throttle (reserved or account concurrency).
locals {
  function_alarm_metrics = {
    errors = {
      metric_name         = "Errors"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = var.alarms.function_errors_threshold
      what                = "failed."
    }
    throttles = {
      metric_name         = "Throttles"
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0
      what                = "were throttled (reserved or account concurrency)."
    }
  }
  # "<function>-<metric>" (publish-errors, publish-throttles, ...): the alarm name's suffix.
  function_alarms = {
    for pair in setproduct(keys(local.alarmed_functions), keys(local.function_alarm_metrics)) :
    "${pair[0]}-${pair[1]}" => merge(local.function_alarm_metrics[pair[1]], { function = pair[0] })
  }
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = local.function_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = "Invocations of ${local.name}-${each.value.function} ${each.value.what}"
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

resource "aws_cloudwatch_metric_alarm" "api_errors" {
  for_each = local.api_error_metrics

  alarm_name          = "${local.name}-websocket-${each.key}-errors"
  alarm_description   = "The WebSocket API reported ${each.value}s (5xx-class failures) on stage ${local.stage_name}."
  namespace           = "AWS/ApiGateway"
  metric_name         = each.value
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
