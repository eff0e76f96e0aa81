# -----------------------------------------------------------------------------
# Endpoints
# -----------------------------------------------------------------------------

output "websocket_url" {
  description = "Client URL of the stage (wss://API.execute-api.REGION.amazonaws.com/STAGE); clients append ?token=JWT."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/${local.stage_name}"
}

output "management_endpoint" {
  description = "Endpoint of the @connections management API for this stage (https://API.execute-api.REGION.amazonaws.com/STAGE), as set in MANAGEMENT_ENDPOINT."
  value       = local.management_base
}

output "custom_domain_url" {
  description = "Client URL on the custom domain (wss://DOMAIN[/MAPPING_KEY]), or null."
  value       = var.custom_domain == null ? null : "wss://${var.custom_domain.domain_name}${var.custom_domain.mapping_key == null ? "" : "/${var.custom_domain.mapping_key}"}"
}

output "custom_domain_target" {
  description = "Alias target for the custom domain's DNS record (target_domain_name, hosted_zone_id), or null."
  value = var.custom_domain == null ? null : {
    target_domain_name = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    hosted_zone_id     = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
  }
}

# -----------------------------------------------------------------------------
# API
# -----------------------------------------------------------------------------

output "api_id" {
  description = "ID of the WebSocket API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_execution_arn" {
  description = "Execution ARN of the API (prefix for execute-api:ManageConnections and invoke permissions)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "route_keys" {
  description = "Every route key of the API (manifest and consumer routes)."
  value       = sort(tolist(local.all_route_keys))
}

output "authorizer_id" {
  description = "ID of the REQUEST authorizer on $connect."
  value       = aws_apigatewayv2_authorizer.this.id
}

output "access_log_group_name" {
  description = "Log group of the stage's access logs."
  value       = aws_cloudwatch_log_group.access.name
}

# -----------------------------------------------------------------------------
# Table
# -----------------------------------------------------------------------------

output "table_name" {
  description = "Name of the DynamoDB table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.this.arn
}

output "table_stream_arn" {
  description = "ARN of the table's stream."
  value       = aws_dynamodb_table.this.stream_arn
}

# -----------------------------------------------------------------------------
# Queues
# -----------------------------------------------------------------------------

output "queue_urls" {
  description = "URLs of the manifest's queues, by name (fanout, publish)."
  value       = { for name, q in aws_sqs_queue.this : name => q.url }
}

output "queue_arns" {
  description = "ARNs of the manifest's queues, by name."
  value       = { for name, q in aws_sqs_queue.this : name => q.arn }
}

output "dlq_urls" {
  description = "URLs of the dead-letter queues, by queue name, plus `stream` (the stream's on-failure destination)."
  value       = merge({ for name, q in aws_sqs_queue.dlq : name => q.url }, { stream = aws_sqs_queue.stream_dlq.url })
}

output "dlq_arns" {
  description = "ARNs of the dead-letter queues, by queue name, plus `stream`."
  value       = merge({ for name, q in aws_sqs_queue.dlq : name => q.arn }, { stream = aws_sqs_queue.stream_dlq.arn })
}

output "publish_queue_url" {
  description = "URL of the server-side publish queue (backends send {target, event, data} messages; grant them sqs:SendMessage on publish_queue_arn)."
  value       = aws_sqs_queue.this["publish"].url
}

output "publish_queue_arn" {
  description = "ARN of the server-side publish queue."
  value       = aws_sqs_queue.this["publish"].arn
}

# -----------------------------------------------------------------------------
# Functions
# -----------------------------------------------------------------------------

output "function_names" {
  description = "Lambda function names, by manifest function name."
  value       = { for name, f in aws_lambda_function.this : name => f.function_name }
}

output "function_arns" {
  description = "ARNs to invoke, by manifest function name: the function's, or with snap_start_enabled its \"live\" alias's (qualified; $LATEST has no snapshot)."
  value       = local.function_target_arn
}

output "function_role_arns" {
  description = "Execution role ARNs, by manifest function name."
  value       = { for name, r in aws_iam_role.function : name => r.arn }
}

output "publish_function_name" {
  description = "Name of the server-side publish function (backends may invoke it directly; grant them lambda:InvokeFunction on publish_function_arn)."
  value       = aws_lambda_function.this[local.manifest.queues.publish.consumer].function_name
}

output "publish_function_arn" {
  description = "ARN to invoke for a server-side publish (with snap_start_enabled, the \"live\" alias)."
  value       = local.function_target_arn[local.manifest.queues.publish.consumer]
}

output "layer_arn" {
  description = "ARN of the shared layer version."
  value       = aws_lambda_layer_version.this.arn
}

output "publisher_policy_json" {
  description = "IAM policy for a backend that publishes events: lambda:InvokeFunction on the publish function, sqs:SendMessage on the publish queue and, with kms_key_arn, kms:GenerateDataKey and kms:Decrypt on that key (SQS needs both to accept a message on a queue encrypted with a customer managed key). Attach it to the backend's role, e.g. aws_iam_role_policy { policy = module.websocket_api.publisher_policy_json }."
  value = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "InvokePublish"
          Effect   = "Allow"
          Action   = ["lambda:InvokeFunction"]
          Resource = distinct([aws_lambda_function.this[local.manifest.queues.publish.consumer].arn, local.function_target_arn[local.manifest.queues.publish.consumer]])
        },
        {
          Sid      = "SendToPublishQueue"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.this["publish"].arn]
        },
      ],
      var.kms_key_arn == null ? [] : [{
        Sid      = "PublishQueueKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [var.kms_key_arn]
      }],
    )
  })
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when dashboard_enabled = false."
  value       = var.dashboard_enabled ? aws_cloudwatch_dashboard.this[0].dashboard_name : null
}

output "execution_log_group_name" {
  description = "Log group of the stage's execution logs (API-Gateway-Execution-Logs_API/STAGE), created with the configured retention."
  value       = aws_cloudwatch_log_group.execution.name
}
