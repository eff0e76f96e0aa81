# Optional custom domain and its API mapping.

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

run "no_custom_domain_by_default" {
  command = plan

  assert {
    condition     = length(aws_apigatewayv2_domain_name.this) == 0 && length(aws_apigatewayv2_api_mapping.this) == 0
    error_message = "No domain or mapping may be created without custom_domain."
  }

  assert {
    condition     = output.custom_domain_url == null && output.custom_domain_target == null
    error_message = "Custom domain outputs must be null without custom_domain."
  }
}

run "custom_domain_maps_the_stage" {
  command = plan

  variables {
    custom_domain = {
      domain_name     = "ws.example.com"
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
      mapping_key     = "chat"
    }
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this[0].domain_name == "ws.example.com"
    error_message = "The domain must be created with the given name."
  }

  assert {
    condition     = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].endpoint_type == "REGIONAL" && aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].security_policy == "TLS_1_2"
    error_message = "The domain must be regional with TLS 1.2."
  }

  assert {
    condition     = aws_apigatewayv2_api_mapping.this[0].stage == "test" && aws_apigatewayv2_api_mapping.this[0].api_mapping_key == "chat"
    error_message = "The mapping must point the domain (and key) at the stage."
  }

  assert {
    condition     = output.custom_domain_url == "wss://ws.example.com/chat"
    error_message = "custom_domain_url must be wss://DOMAIN/KEY."
  }
}

run "custom_domain_without_mapping_key_serves_the_root" {
  command = plan

  variables {
    custom_domain = {
      domain_name     = "ws.example.com"
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
    }
  }

  assert {
    condition     = aws_apigatewayv2_api_mapping.this[0].api_mapping_key == null && output.custom_domain_url == "wss://ws.example.com"
    error_message = "Without mapping_key the stage is served at the domain's root."
  }
}

run "custom_domain_certificate_must_be_in_the_apis_region" {
  command = plan

  # The CloudFront habit: a us-east-1 certificate for a regional endpoint in eu-west-1.
  variables {
    custom_domain = {
      domain_name     = "ws.example.com"
      certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    }
  }

  expect_failures = [aws_apigatewayv2_domain_name.this]
}

run "custom_domain_name_must_be_a_dns_name" {
  command = plan

  variables {
    custom_domain = {
      domain_name     = "https://ws.example.com"
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
    }
  }

  expect_failures = [var.custom_domain]
}

run "custom_domain_needs_an_acm_certificate_arn" {
  command = plan

  variables {
    custom_domain = {
      domain_name     = "ws.example.com"
      certificate_arn = "arn:aws:iam::123456789012:server-certificate/ws"
    }
  }

  expect_failures = [var.custom_domain]
}

run "custom_domain_mapping_key_is_one_path_segment" {
  command = plan

  variables {
    custom_domain = {
      domain_name     = "ws.example.com"
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
      mapping_key     = "a/b"
    }
  }

  expect_failures = [var.custom_domain]
}
