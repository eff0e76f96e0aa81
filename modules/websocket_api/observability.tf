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

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.alarmed_functions

  alarm_name          = "${local.name}-${each.key}-errors"
  alarm_description   = "Invocations of ${local.name}-${each.key} failed."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarms.function_errors_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = local.alarmed_functions

  alarm_name          = "${local.name}-${each.key}-throttles"
  alarm_description   = "Invocations of ${local.name}-${each.key} were throttled (reserved or account concurrency)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
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
