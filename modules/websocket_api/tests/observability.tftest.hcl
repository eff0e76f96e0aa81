# Log groups and alarms (optional SNS notifications).

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

run "log_groups_have_retention" {
  command = plan

  assert {
    condition     = alltrue([for g in values(aws_cloudwatch_log_group.function) : g.retention_in_days == 30]) && aws_cloudwatch_log_group.access.retention_in_days == 30
    error_message = "Every log group must have the default 30-day retention."
  }

  assert {
    condition     = aws_cloudwatch_log_group.function["publish"].name == "/aws/lambda/chat-test-publish"
    error_message = "Function log groups must use Lambda's naming."
  }
}

run "longer_retention" {
  command = plan

  variables {
    log_retention_days = 365
  }

  assert {
    condition     = alltrue([for g in values(aws_cloudwatch_log_group.function) : g.retention_in_days == 365]) && aws_cloudwatch_log_group.access.retention_in_days == 365
    error_message = "log_retention_days must reach every log group."
  }
}

run "alarms_without_notifications_by_default" {
  command = plan

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.dlq_depth)) == toset(["fanout", "publish", "stream"])
    error_message = "Every DLQ (the queues' and the stream's) needs a depth alarm."
  }

  assert {
    condition     = length([for a in values(aws_cloudwatch_metric_alarm.function) : a if a.metric_name == "Errors"]) == 14 && length([for a in values(aws_cloudwatch_metric_alarm.function) : a if a.metric_name == "Throttles"]) == 14
    error_message = "Every function needs an errors and a throttles alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.function["publish-errors"].alarm_name == "chat-test-publish-errors" && aws_cloudwatch_metric_alarm.function["publish-errors"].comparison_operator == "GreaterThanOrEqualToThreshold" && aws_cloudwatch_metric_alarm.function["publish-errors"].threshold == 1 && aws_cloudwatch_metric_alarm.function["publish-errors"].alarm_description == "Invocations of chat-test-publish failed."
    error_message = "A function's errors alarm fires at function_errors_threshold failed invocations."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.function["publish-throttles"].alarm_name == "chat-test-publish-throttles" && aws_cloudwatch_metric_alarm.function["publish-throttles"].comparison_operator == "GreaterThanThreshold" && aws_cloudwatch_metric_alarm.function["publish-throttles"].threshold == 0 && aws_cloudwatch_metric_alarm.function["publish-throttles"].dimensions == tomap({ FunctionName = "chat-test-publish" })
    error_message = "A function's throttles alarm fires on the first throttle."
  }

  assert {
    condition     = toset([for a in values(aws_cloudwatch_metric_alarm.api_errors) : a.metric_name]) == toset(["IntegrationError", "ExecutionError"])
    error_message = "The API needs integration and execution error alarms (WebSocket APIs have no 5XXError metric)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.api_errors["integration"].dimensions == tomap({ ApiId = "a1b2c3d4e5", Stage = "test" })
    error_message = "API alarms must watch this API's stage."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq_depth["stream"].dimensions == tomap({ QueueName = "chat-test-stream-dlq" }) && aws_cloudwatch_metric_alarm.dlq_depth["stream"].threshold == 0
    error_message = "A DLQ alarm must fire on the first message."
  }

  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.function) : length(a.alarm_actions) == 0])
    error_message = "Without sns_topic_arn alarms have no actions."
  }
}

run "alarms_notify_the_sns_topic" {
  command = plan

  variables {
    alarms = { sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:oncall", period_seconds = 60, evaluation_periods = 3 }
  }

  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.dlq_depth), values(aws_cloudwatch_metric_alarm.function), values(aws_cloudwatch_metric_alarm.api_errors)) : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:oncall"]) && a.ok_actions == toset(["arn:aws:sns:eu-west-1:123456789012:oncall"])])
    error_message = "Every alarm must notify the topic on ALARM and OK."
  }

  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.function) : a.period == 60 && a.evaluation_periods == 3])
    error_message = "Alarm period and evaluation periods must be configurable."
  }
}

run "alarms_can_be_disabled" {
  command = plan

  variables {
    alarms = { enabled = false }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.dlq_depth) + length(aws_cloudwatch_metric_alarm.function) + length(aws_cloudwatch_metric_alarm.api_errors) == 0
    error_message = "alarms.enabled = false must create no alarm."
  }
}

run "log_retention_must_be_a_cloudwatch_value" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "sns_topic_must_be_an_sns_arn" {
  command = plan

  variables {
    alarms = { sns_topic_arn = "oncall" }
  }

  expect_failures = [var.alarms]
}

run "alarm_period_is_a_supported_value" {
  command = plan

  variables {
    alarms = { period_seconds = 120 }
  }

  expect_failures = [var.alarms]
}

run "alarm_thresholds_are_positive" {
  command = plan

  variables {
    alarms = { function_errors_threshold = 0 }
  }

  expect_failures = [var.alarms]
}

run "alarm_evaluation_periods_are_bounded" {
  command = plan

  variables {
    alarms = { evaluation_periods = 0 }
  }

  expect_failures = [var.alarms]
}
