# JWT modes (HS256 secret vs JWKS), what the authorizer gets, and the JWT validations.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  project       = "chat"
  env           = "test"
  artifacts_dir = "./tests/fixtures/artifacts"
  jwt = {
    secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-test-jwt-AbCdEf"
    issuer     = "https://auth.example.com/"
    audience   = "chat"
  }
}

run "hs256_reads_the_secret_from_secrets_manager" {
  command = plan

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_ALGORITHM"] == "HS256" && aws_lambda_function.this["authorizer"].environment[0].variables["JWT_SECRET_ARN"] == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-test-jwt-AbCdEf"
    error_message = "HS256 must pass the algorithm and the secret's ARN (never its value)."
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "JWT_JWKS_URL")
    error_message = "HS256 must not set a JWKS URL."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_ISSUER"] == "https://auth.example.com/" && aws_lambda_function.this["authorizer"].environment[0].variables["JWT_AUDIENCE"] == "chat"
    error_message = "Issuer and audience must reach the authorizer."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_USER_CLAIM"] == "sub" && aws_lambda_function.this["authorizer"].environment[0].variables["JWT_TENANT_CLAIM"] == "tenant_id" && aws_lambda_function.this["authorizer"].environment[0].variables["JWT_LEEWAY_SECONDS"] == "30"
    error_message = "Claim names and leeway default to sub, tenant_id and 30 s."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["authorizer"].policy).Statement : s.Action if s.Sid == "ReadJwtSecret"] == [["secretsmanager:GetSecretValue"]]
    error_message = "The authorizer must be allowed secretsmanager:GetSecretValue."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["authorizer"].policy).Statement : s.Resource if s.Sid == "ReadJwtSecret"] == [["arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-test-jwt-AbCdEf"]]
    error_message = "The secret read must be scoped to the secret's ARN."
  }

  assert {
    condition     = alltrue([for k, p in aws_iam_role_policy.function : contains(["authorizer", "refresh_token"], k) || !strcontains(p.policy, "secretsmanager:") && !strcontains(p.policy, "ssm:")])
    error_message = "Only the functions that verify tokens (authorizer, refresh_token) may read the secret."
  }

  assert {
    condition     = !strcontains(aws_iam_role_policy.function["authorizer"].policy, "kms:")
    error_message = "No KMS permission without a secret KMS key."
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "ALLOWED_ORIGINS")
    error_message = "No Origin allowlist unless given."
  }
}

run "hs256_from_an_ssm_parameter_with_a_kms_key" {
  command = plan

  variables {
    jwt = {
      secret_arn         = "arn:aws:ssm:eu-west-1:123456789012:parameter/chat/test/jwt"
      secret_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      issuer             = "https://auth.example.com/"
      audience           = "chat"
    }
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["authorizer"].policy).Statement : s.Action if s.Sid == "ReadJwtSecret"] == [["ssm:GetParameter"]]
    error_message = "An SSM parameter must be read with ssm:GetParameter only."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["authorizer"].policy).Statement : s if s.Sid == "DecryptJwtSecret"][0].Resource == ["arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"]
    error_message = "kms:Decrypt must be granted on the secret's key only."
  }
}

run "rs256_uses_the_jwks_url_and_no_secret" {
  command = plan

  variables {
    jwt = {
      algorithm    = "RS256"
      jwks_url     = "https://auth.example.com/.well-known/jwks.json"
      issuer       = "https://auth.example.com/"
      audience     = "chat"
      tenant_claim = "custom:tenant"
    }
    allowed_origins = ["https://app.example.com", "http://localhost:5173"]
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_JWKS_URL"] == "https://auth.example.com/.well-known/jwks.json" && !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "JWT_SECRET_ARN") && !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "JWT_SECRET_CACHE_SECONDS")
    error_message = "RS256 must pass the JWKS URL and no secret ARN (nor a secret cache age)."
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.function["authorizer"].policy).Statement : s if s.Sid == "ReadJwtSecret" || s.Sid == "DecryptJwtSecret"]) == 0
    error_message = "With a JWKS there is no secret to read."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_TENANT_CLAIM"] == "custom:tenant"
    error_message = "Claim names must be configurable."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["ALLOWED_ORIGINS"] == "https://app.example.com,http://localhost:5173"
    error_message = "allowed_origins must reach the authorizer comma-separated."
  }
}

run "algorithm_is_an_enum" {
  command = plan

  variables {
    jwt = { algorithm = "none", secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "hs256_needs_a_secret" {
  command = plan

  variables {
    jwt = { algorithm = "HS256", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "hs256_rejects_a_jwks_url" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", jwks_url = "https://auth.example.com/jwks", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "rs256_needs_a_jwks_url" {
  command = plan

  variables {
    jwt = { algorithm = "RS256", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "es256_rejects_a_secret" {
  command = plan

  variables {
    jwt = { algorithm = "ES256", jwks_url = "https://auth.example.com/jwks", secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "secret_arn_must_be_secrets_manager_or_ssm" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:s3:::bucket/secret", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "secret_kms_key_must_be_a_key_arn" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", secret_kms_key_arn = "alias/jwt", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "jwks_url_must_be_https" {
  command = plan

  variables {
    jwt = { algorithm = "ES256", jwks_url = "http://auth.example.com/jwks", issuer = "i", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "issuer_and_audience_are_required" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", issuer = " ", audience = "a" }
  }

  expect_failures = [var.jwt]
}

run "rate_limit_claim_name_is_a_plain_identifier" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", issuer = "i", audience = "a", rate_limit_claim = "rate limit" }
  }

  expect_failures = [var.jwt]
}

run "claim_names_are_plain_identifiers" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", issuer = "i", audience = "a", user_claim = "" }
  }

  expect_failures = [var.jwt]
}

run "leeway_is_at_most_a_minute" {
  command = plan

  variables {
    jwt = { secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", issuer = "i", audience = "a", leeway_seconds = 61 }
  }

  expect_failures = [var.jwt]
}

run "secret_cache_age_is_bounded" {
  command = plan

  variables {
    jwt = {
      secret_arn           = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-test-jwt-AbCdEf"
      issuer               = "https://auth.example.com/"
      audience             = "chat"
      secret_cache_seconds = 0
    }
  }

  expect_failures = [var.jwt]
}

run "allowed_origins_are_origins" {
  command = plan

  variables {
    allowed_origins = ["https://app.example.com/path"]
  }

  expect_failures = [var.allowed_origins]
}
