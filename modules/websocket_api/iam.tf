# -----------------------------------------------------------------------------
# IAM: one least-privilege role per function, derived from the manifest
# -----------------------------------------------------------------------------

locals {
  table_read_actions = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
  ]
  table_write_actions = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ]

  # Policies are built as data (jsonencode) rather than aws_iam_policy_document so that
  # `terraform plan` shows every action and resource, and tests can assert on them.
  function_statements = {
    for name, f in local.functions : name => concat(
      [{
        Sid      = "OwnLogGroup"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.function[name].arn}:*"]
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
        Resource = [aws_dynamodb_table.this.arn]
      }],
      # Indexes only serve Query (writes go through the table), so that is all they get.
      f.dynamodb == "none" ? [] : [{
        Sid      = "TableIndexes"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = ["${aws_dynamodb_table.this.arn}/index/*"]
      }],
      length(f.manage_connections) == 0 ? [] : [{
        Sid    = "ManageConnections"
        Effect = "Allow"
        Action = ["execute-api:ManageConnections"]
        Resource = [
          for m in sort(f.manage_connections) :
          "${aws_apigatewayv2_api.this.execution_arn}/${local.stage_name}/${m}/@connections/*"
        ]
      }],
      length(f.sqs_send) == 0 ? [] : [{
        Sid      = "SendToQueues"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [for q in sort(f.sqs_send) : aws_sqs_queue.this[q].arn]
      }],
      f.consumes_queue == null ? [] : [{
        Sid    = "ConsumeQueue"
        Effect = "Allow"
        Action = [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:ChangeMessageVisibility",
          "sqs:GetQueueAttributes",
        ]
        Resource = [aws_sqs_queue.this[f.consumes_queue].arn]
      }],
      !f.reads_stream ? [] : [
        {
          Sid    = "ReadTableStream"
          Effect = "Allow"
          Action = [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
          ]
          Resource = [aws_dynamodb_table.this.stream_arn]
        },
        {
          # The event source mapping sends failed batches with the function's role.
          Sid      = "StreamFailureDestination"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.stream_dlq.arn]
        },
      ],
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
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name        = "${local.name}-${each.key}"
  description = "Execution role of ${local.name}-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name = "least-privilege"
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.function_statements[each.key]
  })
}

# -----------------------------------------------------------------------------
# API Gateway's account-level CloudWatch role (optional, one per account and region)
# -----------------------------------------------------------------------------

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name        = "${local.name}-apigw-cloudwatch"
  description = "Lets API Gateway write access and execution logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}
