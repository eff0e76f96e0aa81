# -----------------------------------------------------------------------------
# IAM: one least-privilege role per function, derived from the manifest
# -----------------------------------------------------------------------------

locals {
  # Only what the code calls (tests/terraform checks this against lambda_src).
  table_read_actions = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
  ]
  table_write_actions = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ]

  # ARNs whose format is fixed are built from names, so that the main policy is fully known
  # at plan time: `terraform plan` shows every action and resource to the reviewer, and
  # tests can assert on them. Only the API ID and the stream label are known after apply;
  # those statements live in a second policy (aws_iam_role_policy.api_and_stream).
  arn_prefix = "arn:${local.partition}"
  table_arn  = "${local.arn_prefix}:dynamodb:${local.region}:${local.account_id}:table/${aws_dynamodb_table.this.name}"
  queue_arns = { for name in keys(local.queues) : name => "${local.arn_prefix}:sqs:${local.region}:${local.account_id}:${aws_sqs_queue.this[name].name}" }
  log_group_arns = {
    for name in keys(local.functions) :
    name => "${local.arn_prefix}:logs:${local.region}:${local.account_id}:log-group:${aws_cloudwatch_log_group.function[name].name}"
  }
  stream_dlq_arn = "${local.arn_prefix}:sqs:${local.region}:${local.account_id}:${aws_sqs_queue.stream_dlq.name}"

  # Policies are data (jsonencode), not aws_iam_policy_document, for the same reason.
  function_statements = {
    for name, f in local.functions : name => concat(
      [{
        Sid      = "OwnLogGroup"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arns[name]}:*"]
      }],
      # X-Ray trace submission has no resource-level permissions: "*" here is the resource
      # wildcard AWS requires for these two actions, not an action wildcard.
      [{
        Sid      = "XRayTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      }],
      f.dynamodb == "none" ? [] : [{
        Sid      = "Table"
        Effect   = "Allow"
        Action   = f.dynamodb == "write" ? concat(local.table_read_actions, local.table_write_actions) : local.table_read_actions
        Resource = [local.table_arn]
      }],
      # Indexes only serve Query (writes go through the table), so that is all they get.
      f.dynamodb == "none" ? [] : [{
        Sid      = "TableIndexes"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = ["${local.table_arn}/index/*"]
      }],
      length(f.sqs_send) == 0 ? [] : [{
        Sid      = "SendToQueues"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [for q in sort(f.sqs_send) : local.queue_arns[q]]
      }],
      # What Lambda's SQS poller needs, with the function's role (the code calls none).
      f.consumes_queue == null ? [] : [{
        Sid    = "ConsumeQueue"
        Effect = "Allow"
        Action = [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:GetQueueAttributes",
        ]
        Resource = [local.queue_arns[f.consumes_queue]]
      }],
      !f.reads_stream ? [] : [{
        # The event source mapping sends failed batches with the function's role.
        Sid      = "StreamFailureDestination"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [local.stream_dlq_arn]
      }],
      # A customer managed key on the queues: producers need a data key, consumers decrypt.
      var.kms_key_arn == null || (length(f.sqs_send) == 0 && f.consumes_queue == null && !f.reads_stream) ? [] : [{
        Sid      = "QueueKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      }],
      !f.jwt_secret || var.jwt.secret_arn == null ? [] : [{
        Sid      = "ReadJwtSecret"
        Effect   = "Allow"
        Action   = local.jwt_secret_service == "ssm" ? ["ssm:GetParameter"] : ["secretsmanager:GetSecretValue"]
        Resource = [var.jwt.secret_arn]
      }],
      !f.jwt_secret || var.jwt.secret_arn == null || var.jwt.secret_kms_key_arn == null ? [] : [{
        Sid      = "DecryptJwtSecret"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.jwt.secret_kms_key_arn]
      }],
    )
  }

  # Statements on ARNs that exist only after apply: the API's execution ARN (its ID) and the
  # stream ARN (its label).
  late_bound_statements = {
    for name, f in local.functions : name => concat(
      length(f.manage_connections) == 0 ? [] : [{
        Sid    = "ManageConnections"
        Effect = "Allow"
        Action = ["execute-api:ManageConnections"]
        Resource = [
          for m in sort(f.manage_connections) :
          "${aws_apigatewayv2_api.this.execution_arn}/${local.stage_name}/${m}/@connections/*"
        ]
      }],
      !f.reads_stream ? [] : [{
        Sid    = "ReadTableStream"
        Effect = "Allow"
        Action = [
          "dynamodb:DescribeStream",
          "dynamodb:GetRecords",
          "dynamodb:GetShardIterator",
          "dynamodb:ListStreams",
        ]
        Resource = [aws_dynamodb_table.this.stream_arn]
      }],
    ) if length(f.manage_connections) > 0 || f.reads_stream
  }
}

# IAM names are global to the account while everything else here is regional: the region
# in the name lets the same project and env run in a second region. Names that would pass
# IAM's 64 characters keep a readable head and end in a hash of the full name.
locals {
  role_names = {
    for name in keys(local.functions) : name => (
      length("${local.name}-${name}-${local.region}") <= 64
      ? "${local.name}-${name}-${local.region}"
      : "${substr("${local.name}-${name}-${local.region}", 0, 55)}-${substr(sha256("${local.name}-${name}-${local.region}"), 0, 8)}"
    )
  }
}

# The standard service trust: Lambda does not document aws:SourceAccount/aws:SourceArn on
# the AssumeRole call for execution roles, and a condition on a key that is absent denies.
resource "aws_iam_role" "function" {
  for_each = local.functions

  name        = local.role_names[each.key]
  description = "Execution role of ${local.name}-${each.key} in ${local.region}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name = "least-privilege"
  role = aws_iam_role.function[each.key].name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.function_statements[each.key]
  })
}

resource "aws_iam_role_policy" "api_and_stream" {
  for_each = local.late_bound_statements

  name = "connections-and-stream"
  role = aws_iam_role.function[each.key].name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = each.value
  })
}

# -----------------------------------------------------------------------------
# API Gateway's account-level CloudWatch role: no longer managed here
# -----------------------------------------------------------------------------
#
# It is a per-account-and-region singleton that hashicorp/aws v6 resets on destroy, so an
# environment that is destroyed (dev) must not own it: modules/api_gateway_account (applied
# once per account and region, e.g. from terraform/bootstrap) does. Deployments that had
# manage_api_gateway_account = true forget these objects instead of destroying them: the
# role stays registered until the bootstrap root registers its own (see the README).

removed {
  from = aws_api_gateway_account.this

  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role_policy_attachment.api_gateway_cloudwatch

  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_iam_role.api_gateway_cloudwatch

  lifecycle {
    destroy = false
  }
}
