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
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.custom_domain == null ? 0 : 1

  api_id          = aws_apigatewayv2_api.this.id
  domain_name     = aws_apigatewayv2_domain_name.this[0].id
  stage           = aws_apigatewayv2_stage.this.name
  api_mapping_key = var.custom_domain.mapping_key
}
