# Development environment. Replace the example values with your own.
region  = "eu-west-1"
project = "wsplatform"

# Token settings of your issuer. The signing key is created once outside Terraform:
#   aws secretsmanager create-secret --name wsplatform-dev/jwt-signing-key \
#     --secret-string "$(openssl rand -base64 48)" --query ARN --output text
jwt_secret_arn  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wsplatform-dev/jwt-signing-key-AbCdEf"
jwt_issuer      = "https://auth.dev.example.com/"
jwt_audience    = "wsplatform-dev"
allowed_origins = ["http://localhost:5173", "https://app.dev.example.com"]
