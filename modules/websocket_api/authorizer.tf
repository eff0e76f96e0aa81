# -----------------------------------------------------------------------------
# REQUEST authorizer on $connect (JWT from the `token` query parameter)
# -----------------------------------------------------------------------------

# Browsers cannot set headers on a WebSocket handshake, so the token travels in the query
# string. API Gateway rejects a handshake without it (401) before invoking the Lambda, and
# the access log format below never includes the query string.
resource "aws_apigatewayv2_authorizer" "this" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "${local.name}-jwt"
  authorizer_type  = "REQUEST"
  authorizer_uri   = local.function_invoke_arn[local.authorizer_function]
  identity_sources = ["route.request.querystring.token"]
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[local.authorizer_function].function_name
  qualifier     = local.function_qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this.id}"
}

locals {
  # Only the ARN of the secret reaches the environment; the authorizer reads the value at
  # cold start through its role (see iam.tf). Unset settings are omitted, never empty.
  jwt_environment = { for k, v in {
    JWT_ALGORITHM        = var.jwt.algorithm
    JWT_SECRET_ARN       = var.jwt.secret_arn
    JWT_JWKS_URL         = var.jwt.jwks_url
    JWT_ISSUER           = var.jwt.issuer
    JWT_AUDIENCE         = var.jwt.audience
    JWT_USER_CLAIM       = var.jwt.user_claim
    JWT_TENANT_CLAIM     = var.jwt.tenant_claim
    JWT_ROOMS_CLAIM      = var.jwt.rooms_claim
    JWT_ROLES_CLAIM      = var.jwt.roles_claim
    JWT_RATE_LIMIT_CLAIM = var.jwt.rate_limit_claim
    JWT_LEEWAY_SECONDS   = tostring(var.jwt.leeway_seconds)
    # HS256 only: how long a container keeps the secret before reading it again.
    JWT_SECRET_CACHE_SECONDS = var.jwt.secret_arn == null ? null : tostring(var.jwt.secret_cache_seconds)
    ALLOWED_ORIGINS          = length(var.allowed_origins) > 0 ? join(",", var.allowed_origins) : null
  } : k => v if v != null }

  # Which store holds the HS256 secret decides the one read action the authorizer gets.
  jwt_secret_service = var.jwt.secret_arn == null ? null : split(":", var.jwt.secret_arn)[2]
}
