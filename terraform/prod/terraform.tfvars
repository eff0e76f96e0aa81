# Production environment. Replace the example values with your identity provider's.
region  = "eu-west-1"
project = "wsplatform"

jwt_algorithm   = "RS256"
jwt_jwks_url    = "https://auth.example.com/.well-known/jwks.json"
jwt_issuer      = "https://auth.example.com/"
jwt_audience    = "wsplatform"
allowed_origins = ["https://app.example.com"]

# Optional: customer managed key and custom domain.
# kms_key_arn   = "arn:aws:kms:eu-west-1:123456789012:key/..."
# custom_domain = {
#   domain_name     = "ws.example.com"
#   certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/..."
# }
