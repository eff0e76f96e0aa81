# -----------------------------------------------------------------------------
# CloudWatch dashboard: what an on-call engineer looks at first
# -----------------------------------------------------------------------------
#
# Dashboard names are global to the account (not regional), hence the region in the name.
# Rows: traffic; route errors and latency; authorizer outcomes; delivery outcomes; queues
# and dead-letter queues; Lambda errors and throttles. The alarms (observability.tf) watch
# the same metrics and link here.

locals {
  dashboard_name = "${local.name}-websocket-${local.region}"

  api_dimensions = ["ApiId", aws_apigatewayv2_api.this.id, "Stage", local.stage_name]
  deployment     = ["Project", var.project, "Env", var.env]
  function_names = { for k, f in aws_lambda_function.this : k => f.function_name }
  route_function_names = [
    for k in sort(keys(local.functions)) : local.function_names[k] if local.functions[k].route != null
  ]

  dashboard_widgets = [
    {
      title   = "Connections and messages"
      metrics = [for m in ["ConnectCount", "MessageCount"] : concat(["AWS/ApiGateway", m], local.api_dimensions, [{ stat = "Sum" }])]
    },
    {
      title   = "Route errors (API)"
      metrics = [for m in ["ClientError", "IntegrationError", "ExecutionError"] : concat(["AWS/ApiGateway", m], local.api_dimensions, [{ stat = "Sum" }])]
    },
    {
      title = "Route latency (integration p50 / p99) and route functions' p99 duration"
      metrics = concat(
        [for stat in ["p50", "p99"] : concat(["AWS/ApiGateway", "IntegrationLatency"], local.api_dimensions, [{ stat = stat }])],
        [for name in local.route_function_names : ["AWS/Lambda", "Duration", "FunctionName", name, { stat = "p99" }]],
      )
    },
    {
      title   = "Authorizer outcomes (Rejected = client tokens, Unavailable = outage)"
      metrics = [for m in ["AuthorizerAllowed", "AuthorizerDenied", "AuthorizerRejected", "AuthorizerUnavailable"] : concat([var.metrics_namespace, m], local.deployment, [{ stat = "Sum" }])]
    },
    {
      title   = "Deliveries: delivered, pruned (gone), failed, too large"
      metrics = [for m in ["delivered", "pruned", "failed", "too_large"] : concat([var.metrics_namespace, m], local.deployment, [{ stat = "Sum" }])]
    },
    {
      title = "Fan-out and publish queues: depth and age of the oldest message (s)"
      # (concat, not flatten: flatten would also flatten each metric's own list)
      metrics = concat(
        [for name in sort(keys(local.queues)) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.this[name].name, { stat = "Maximum" }]],
        [for name in sort(keys(local.queues)) : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.this[name].name, { stat = "Maximum", yAxis = "right" }]],
      )
    },
    {
      title   = "Dead-letter queues (must stay at 0)"
      metrics = [for q in concat([for k in sort(keys(aws_sqs_queue.dlq)) : aws_sqs_queue.dlq[k].name], [aws_sqs_queue.stream_dlq.name]) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, { stat = "Maximum" }]]
    },
    {
      title   = "Lambda errors by function"
      metrics = [for k in sort(keys(local.function_names)) : ["AWS/Lambda", "Errors", "FunctionName", local.function_names[k], { stat = "Sum" }]]
    },
    {
      title = "Lambda throttles and concurrency by function"
      metrics = concat(
        [for k in sort(keys(local.function_names)) : ["AWS/Lambda", "Throttles", "FunctionName", local.function_names[k], { stat = "Sum" }]],
        [for k in sort(keys(local.function_names)) : ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", local.function_names[k], { stat = "Maximum", yAxis = "right" }]],
      )
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.dashboard_enabled ? 1 : 0

  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = w.metrics
        }
      }
    ]
  })

  lifecycle {
    precondition {
      condition     = length(local.dashboard_name) <= 255
      error_message = "The dashboard name ${local.dashboard_name} exceeds CloudWatch's 255 characters."
    }
  }
}
