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

  assert {
    condition     = aws_cloudwatch_log_group.execution.name == "API-Gateway-Execution-Logs_a1b2c3d4e5/test" && aws_cloudwatch_log_group.execution.retention_in_days == 30
    error_message = "The stage's execution log group (API Gateway's own name) must be created by the module, with the retention: otherwise API Gateway creates it without one and a destroy leaves it behind."
  }
}

run "longer_retention" {
  command = plan

  variables {
    log_retention_days = 365
  }

  assert {
    condition     = alltrue([for g in values(aws_cloudwatch_log_group.function) : g.retention_in_days == 365]) && aws_cloudwatch_log_group.access.retention_in_days == 365 && aws_cloudwatch_log_group.execution.retention_in_days == 365
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
    condition     = length([for a in values(aws_cloudwatch_metric_alarm.function) : a if a.metric_name == "Errors"]) == 13 && length([for a in values(aws_cloudwatch_metric_alarm.function) : a if a.metric_name == "Throttles"]) == 14
    error_message = "Every function needs a throttles alarm, and every function but the authorizer a plain errors alarm."
  }

  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.function), "authorizer-errors")
    error_message = "The authorizer's Errors count every rejected token (401): alarming on it pages for client mistakes."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.function["publish-errors"].alarm_name == "chat-test-publish-errors" && aws_cloudwatch_metric_alarm.function["publish-errors"].comparison_operator == "GreaterThanOrEqualToThreshold" && aws_cloudwatch_metric_alarm.function["publish-errors"].threshold == 1 && startswith(aws_cloudwatch_metric_alarm.function["publish-errors"].alarm_description, "Invocations of chat-test-publish failed")
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

run "the_authorizer_pages_for_outages_not_for_rejected_tokens" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.authorizer_unavailable[0].namespace == "ServerlessWebSocket" && aws_cloudwatch_metric_alarm.authorizer_unavailable[0].metric_name == "AuthorizerUnavailable" && aws_cloudwatch_metric_alarm.authorizer_unavailable[0].dimensions == tomap({ Project = "chat", Env = "test" }) && aws_cloudwatch_metric_alarm.authorizer_unavailable[0].threshold == 1
    error_message = "Outages must page through the metric the authorizer emits (AuthorizerUnavailable), for this deployment only."
  }

  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.authorizer_failures[0].metric_query : q.expression if q.return_data == true]) == "FILL(errors, 0) - FILL(rejected, 0) - FILL(unavailable, 0)"
    error_message = "The authorizer's errors alarm must subtract rejected tokens (and reported outages) from Lambda Errors."
  }

  assert {
    condition     = toset([for q in aws_cloudwatch_metric_alarm.authorizer_failures[0].metric_query : q.metric[0].metric_name if length(q.metric) > 0]) == toset(["Errors", "AuthorizerRejected", "AuthorizerUnavailable"])
    error_message = "The expression must read Lambda Errors and the authorizer's own counts."
  }

  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.authorizer_failures[0].metric_query : q.metric[0].dimensions if q.id == "rejected"]) == tomap({ Project = "chat", Env = "test" })
    error_message = "Rejections must be read for this deployment (Project, Env)."
  }

  assert {
    condition     = alltrue([for m in ["AuthorizerRejected", "AuthorizerDenied", "AuthorizerAllowed"] : length([for a in concat(values(aws_cloudwatch_metric_alarm.function), aws_cloudwatch_metric_alarm.authorizer_unavailable) : a if a.metric_name == m]) == 0])
    error_message = "Rejections and other normal outcomes must not page."
  }
}

run "every_alarm_says_what_to_do" {
  command = plan

  assert {
    condition = alltrue([
      for a in concat(values(aws_cloudwatch_metric_alarm.dlq_depth), values(aws_cloudwatch_metric_alarm.queue_age), values(aws_cloudwatch_metric_alarm.function), aws_cloudwatch_metric_alarm.authorizer_unavailable, aws_cloudwatch_metric_alarm.authorizer_failures, values(aws_cloudwatch_metric_alarm.api_errors)) :
      strcontains(a.alarm_description, "#dashboards:name=chat-test-websocket-eu-west-1") && length(a.alarm_description) > 150
    ])
    error_message = "Every alarm's description must say what to do and link the dashboard."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_metric_alarm.dlq_depth["fanout"].alarm_description, "redrive") && strcontains(aws_cloudwatch_metric_alarm.function["send_message-throttles"].alarm_description, "reserved concurrency") && strcontains(aws_cloudwatch_metric_alarm.api_errors["execution"].alarm_description, "API-Gateway-Execution-Logs_a1b2c3d4e5/test")
    error_message = "Descriptions must name the action and where to look."
  }
}

run "late_broadcasts_page" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.queue_age["fanout"].metric_name == "ApproximateAgeOfOldestMessage" && aws_cloudwatch_metric_alarm.queue_age["fanout"].dimensions == tomap({ QueueName = "chat-test-fanout" }) && aws_cloudwatch_metric_alarm.queue_age["fanout"].threshold == 120
    error_message = "A fan-out backlog (late deliveries) must alarm at queue_age_seconds."
  }
}

run "dashboard_shows_what_on_call_needs" {
  command = plan

  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "chat-test-websocket-eu-west-1" && output.dashboard_name == "chat-test-websocket-eu-west-1"
    error_message = "The dashboard name must carry the region: dashboard names are global to the account."
  }

  assert {
    condition = alltrue([
      for m in ["ConnectCount", "MessageCount", "ClientError", "IntegrationError", "ExecutionError", "IntegrationLatency", "Duration", "AuthorizerAllowed", "AuthorizerRejected", "AuthorizerUnavailable", "delivered", "pruned", "failed", "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "Errors", "Throttles", "ConcurrentExecutions"] :
      contains(flatten([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [for metric in w.properties.metrics : metric[1]]]), m)
    ])
    error_message = "The dashboard must show connections, messages, route errors and latency, authorizer outcomes, deliveries, queue depth and age, DLQs and throttles."
  }

  assert {
    condition = alltrue([
      for q in ["chat-test-fanout", "chat-test-fanout-dlq", "chat-test-publish-dlq", "chat-test-stream-dlq"] :
      contains(flatten([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [for metric in w.properties.metrics : metric[3]]]), q)
    ])
    error_message = "The dashboard must show the fan-out queue and every DLQ."
  }

  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.region == "eu-west-1"])
    error_message = "Widgets must read the deployment's region."
  }

  assert {
    condition = alltrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for metric in w.properties.metrics : metric[2] == "Project" && metric[3] == "chat" && metric[4] == "Env" && metric[5] == "test" if metric[0] == "ServerlessWebSocket"
      ]
    ]))
    error_message = "The platform's own metrics must be read for this deployment (Project, Env)."
  }
}

run "dashboard_can_be_switched_off" {
  command = plan

  variables {
    dashboard_enabled = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_name == null && !strcontains(aws_cloudwatch_metric_alarm.dlq_depth["fanout"].alarm_description, "#dashboards")
    error_message = "dashboard_enabled = false must create no dashboard and link none."
  }
}

run "alarm_queue_age_is_bounded" {
  command = plan

  variables {
    alarms = { queue_age_seconds = 5 }
  }

  expect_failures = [var.alarms]
}

run "alarms_notify_the_sns_topic" {
  command = plan

  variables {
    alarms = { sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:oncall", period_seconds = 60, evaluation_periods = 3 }
  }

  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.dlq_depth), values(aws_cloudwatch_metric_alarm.queue_age), values(aws_cloudwatch_metric_alarm.function), aws_cloudwatch_metric_alarm.authorizer_unavailable, aws_cloudwatch_metric_alarm.authorizer_failures, values(aws_cloudwatch_metric_alarm.api_errors)) : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:oncall"]) && a.ok_actions == toset(["arn:aws:sns:eu-west-1:123456789012:oncall"])])
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
    condition     = length(aws_cloudwatch_metric_alarm.dlq_depth) + length(aws_cloudwatch_metric_alarm.queue_age) + length(aws_cloudwatch_metric_alarm.function) + length(aws_cloudwatch_metric_alarm.authorizer_unavailable) + length(aws_cloudwatch_metric_alarm.authorizer_failures) + length(aws_cloudwatch_metric_alarm.api_errors) == 0
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
