# -----------------------------------------------------------------------------
# Optional custom domain (regional endpoint, TLS 1.2) and its API mapping
# -----------------------------------------------------------------------------

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.custom_domain == null ? 0 : 1

  domain_name = var.custom_domain.domain_name

  domain_name_configuration {
    certificate_arn = var.custom_domain.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = local.tags

  # A regional endpoint needs an ACM certificate of the API's own region (a CloudFront
  # us-east-1 certificate is refused at apply). Pass the ARN of a certificate that is
  # ISSUED (e.g. aws_acm_certificate_validation.this.certificate_arn): a pending one fails.
  lifecycle {
    precondition {
      condition     = split(":", var.custom_domain.certificate_arn)[3] == local.region
      error_message = "custom_domain.certificate_arn is in ${split(":", var.custom_domain.certificate_arn)[3]}, but the API is in ${local.region}: regional custom domains need an ACM certificate of the same region. Request (and validate) one in ${local.region}."
    }
    precondition {
      condition     = split(":", var.custom_domain.certificate_arn)[1] == local.partition
      error_message = "custom_domain.certificate_arn is in partition ${split(":", var.custom_domain.certificate_arn)[1]}, not ${local.partition}."
    }
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.custom_domain == null ? 0 : 1

  api_id          = aws_apigatewayv2_api.this.id
  domain_name     = aws_apigatewayv2_domain_name.this[0].id
  stage           = aws_apigatewayv2_stage.this.name
  api_mapping_key = var.custom_domain.mapping_key
}
