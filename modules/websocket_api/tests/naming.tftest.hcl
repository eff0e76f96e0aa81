# Naming: project/env validation and the names derived from them.

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

run "names_derive_from_project_and_env" {
  command = plan

  assert {
    condition     = aws_lambda_function.this["send_message"].function_name == "chat-test-send_message"
    error_message = "Functions must be named <project>-<env>-<function>."
  }

  assert {
    condition     = aws_iam_role.function["send_message"].name == "chat-test-send_message-eu-west-1"
    error_message = "Roles must be named <project>-<env>-<function>-<region>: IAM names are global to the account."
  }

  assert {
    condition     = aws_dynamodb_table.this.name == "chat-test-websocket" && aws_sqs_queue.this["fanout"].name == "chat-test-fanout" && aws_sqs_queue.dlq["fanout"].name == "chat-test-fanout-dlq"
    error_message = "Table and queues must be named <project>-<env>-..."
  }

  assert {
    condition     = aws_lambda_layer_version.this.layer_name == "chat-test-core"
    error_message = "The layer must be named <project>-<env>-core."
  }
}

run "longest_names_fit_aws_limits" {
  command = plan

  variables {
    project = "abcdefghijklmnopqrst"
    env     = "abcdefghij"
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : length(f.function_name) <= 64])
    error_message = "Function names must stay within 64 characters at the longest project/env."
  }

  assert {
    condition     = alltrue([for r in values(aws_iam_role.function) : length(r.name) <= 64]) && alltrue([for q in values(aws_sqs_queue.dlq) : length(q.name) <= 80])
    error_message = "Role names (64) and queue names (80) must fit at the longest project/env."
  }
}

run "a_second_region_gets_other_role_names" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { region = "us-west-2", name = "us-west-2" }
  }

  assert {
    condition     = alltrue([for k, r in aws_iam_role.function : r.name == "chat-test-${k}-us-west-2"])
    error_message = "Every role name must carry the region, so the same project and env can run in another region."
  }
}

run "role_names_stay_unique_and_within_iam_limits_in_the_longest_region" {
  command = plan

  variables {
    project = "abcdefghijklmnopqrst"
    env     = "abcdefghij"
  }

  override_data {
    target = data.aws_region.current
    values = { region = "ap-southeast-5", name = "ap-southeast-5" }
  }

  assert {
    condition     = alltrue([for r in values(aws_iam_role.function) : length(r.name) <= 64 && can(regex("^[A-Za-z0-9+=,.@_-]+$", r.name))])
    error_message = "Role names must be valid IAM names of at most 64 characters."
  }

  assert {
    condition     = length(distinct([for r in values(aws_iam_role.function) : r.name])) == length(aws_iam_role.function)
    error_message = "Shortened role names must still be unique."
  }

  assert {
    condition     = alltrue([for k, r in aws_iam_role.function : r.name == "abcdefghijklmnopqrst-abcdefghij-${k}-ap-southeast-5"])
    error_message = "At the longest project, env and region every manifest function's role name fits whole, region included."
  }
}

run "tags_reach_resources" {
  command = plan

  variables {
    tags = { team = "realtime" }
  }

  assert {
    condition     = aws_dynamodb_table.this.tags["team"] == "realtime" && aws_lambda_function.this["connect"].tags["websocket-api:env"] == "test"
    error_message = "Given tags and the module's project/env tags must be set on resources."
  }
}

run "project_must_be_lowercase" {
  command = plan

  variables {
    project = "Chat"
  }

  expect_failures = [var.project]
}

run "project_length_is_bounded" {
  command = plan

  variables {
    project = "abcdefghijklmnopqrstu"
  }

  expect_failures = [var.project]
}

run "project_cannot_end_with_a_hyphen" {
  command = plan

  variables {
    project = "chat-"
  }

  expect_failures = [var.project]
}

run "env_must_be_short_lowercase_alphanumeric" {
  command = plan

  variables {
    env = "prod-eu-west"
  }

  expect_failures = [var.env]
}

run "env_must_start_with_a_letter" {
  command = plan

  variables {
    env = "1dev"
  }

  expect_failures = [var.env]
}
