# API Gateway's account-level CloudWatch Logs role: one per account and region, registered by
# modules/api_gateway_account (terraform/bootstrap), never by a deployment of this module.

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

run "the_stage_expects_the_bootstrap_role" {
  command = plan

  # The check passes with the role the bootstrap creates (tests/mocks): nothing to expect.
  assert {
    condition     = aws_apigatewayv2_stage.this.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.access.arn
    error_message = "Access logs stay on: the account role is a prerequisite, not an option."
  }
}

run "a_fresh_account_without_the_role_is_reported_at_plan_time" {
  command = plan

  # What iam:GetRole answers when the name exists but belongs to something else; a missing
  # role is a data source error, which a check block reports the same way.
  override_data {
    target = data.aws_iam_role.api_gateway_cloudwatch
    values = {
      assume_role_policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
    }
  }

  expect_failures = [check.api_gateway_account]
}

run "the_module_no_longer_registers_the_account_role" {
  command = plan

  variables {
    manage_api_gateway_account = true
  }

  expect_failures = [var.manage_api_gateway_account]
}

run "role_name_must_be_an_iam_name" {
  command = plan

  variables {
    api_gateway_cloudwatch_role_name = "not a role"
  }

  expect_failures = [var.api_gateway_cloudwatch_role_name]
}

# The module that registers it, as terraform/bootstrap applies it.

run "account_module_registers_a_region_safe_role" {
  command = plan

  module {
    source = "./modules/api_gateway_account"
  }

  variables {
    tags = { team = "platform" }
  }

  assert {
    condition     = aws_iam_role.this.name == "apigateway-cloudwatch-logs-eu-west-1"
    error_message = "The role's name must carry the region (IAM names are global, the setting is regional)."
  }

  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "apigateway.amazonaws.com"
    error_message = "API Gateway must be able to assume the role."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.this.policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    error_message = "The role must carry AWS's policy for pushing API logs."
  }

  assert {
    condition     = aws_api_gateway_account.this.cloudwatch_role_arn == aws_iam_role.this.arn
    error_message = "The account setting must register that role."
  }
}

run "account_module_in_a_second_region" {
  command = plan

  module {
    source = "./modules/api_gateway_account"
  }

  override_data {
    target = data.aws_region.current
    values = { region = "ap-southeast-2", name = "ap-southeast-2" }
  }

  assert {
    condition     = aws_iam_role.this.name == "apigateway-cloudwatch-logs-ap-southeast-2"
    error_message = "A second region must get a role of its own name."
  }
}

run "account_module_role_prefix_is_bounded" {
  command = plan

  module {
    source = "./modules/api_gateway_account"
  }

  variables {
    role_name_prefix = "a-prefix-that-is-far-too-long-for-iam-role-names"
  }

  expect_failures = [var.role_name_prefix]
}
