# -----------------------------------------------------------------------------
# API Gateway's account-level CloudWatch Logs role: ONE per account and region
# -----------------------------------------------------------------------------
#
# Stage access and execution logs need a role registered in the account's API Gateway
# settings (`aws_api_gateway_account`). That setting is a singleton per account and region,
# shared by every REST and WebSocket API there, and hashicorp/aws v6 resets it when the
# resource is destroyed. So it lives here, in its own root (terraform/bootstrap or yours),
# never in an environment that is created and destroyed: destroying a throw-away dev root
# must not switch logging off for prod. prevent_destroy below makes `terraform destroy` of
# the root that holds this module fail instead of resetting the account.

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  region = data.aws_region.current.region
  # IAM is global: the region keeps a second region's bootstrap from colliding.
  role_name = "${var.role_name_prefix}-${local.region}"
}

resource "aws_iam_role" "this" {
  name        = local.role_name
  description = "Lets API Gateway write access and execution logs in ${local.region} (account-level setting)"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "apigateway.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_iam_role_policy_attachment" "this" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.this.arn
  depends_on          = [aws_iam_role_policy_attachment.this]

  # Destroying this resets the account's logging role for every API in the region.
  # To really remove it, delete this block deliberately, in this root only.
  lifecycle {
    prevent_destroy = true
  }
}
