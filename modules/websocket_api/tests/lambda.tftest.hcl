# Lambda functions, layer, artifacts and the environment each function gets.

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

run "functions_follow_the_manifest" {
  command = plan

  assert {
    condition     = toset(keys(aws_lambda_function.this)) == toset(["authorizer", "connect", "disconnect", "default", "heartbeat", "join_room", "leave_room", "send_message", "get_presence", "get_history", "refresh_token", "fanout_worker", "stream_cleanup", "publish"])
    error_message = "There must be one function per manifest entry."
  }

  assert {
    condition     = aws_lambda_function.this["send_message"].memory_size == 512 && aws_lambda_function.this["send_message"].timeout == 29 && aws_lambda_function.this["default"].memory_size == 128
    error_message = "Memory and timeout must come from the manifest."
  }

  assert {
    condition     = aws_lambda_function.this["join_room"].handler == "join_room.handler"
    error_message = "The handler must come from the manifest."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.runtime == "python3.13" && f.architectures == tolist(["arm64"])])
    error_message = "Every function must use the runtime and architecture variables."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.tracing_config[0].mode == "Active"])
    error_message = "X-Ray tracing must be Active on every function."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.logging_config[0].log_format == "Text" && f.logging_config[0].application_log_level == null && f.logging_config[0].system_log_level == null])
    error_message = "One logging path: the functions format and filter their JSON lines themselves, so Lambda's log format is Text (no JSON re-wrapping, no level filter that would drop metric lines)."
  }

  assert {
    condition     = aws_lambda_function.this["connect"].logging_config[0].log_group == "/aws/lambda/chat-test-connect"
    error_message = "Each function must log to its own log group."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.layers == tolist([aws_lambda_layer_version.this.arn])])
    error_message = "Every function must use the shared layer."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.reserved_concurrent_executions == -1 || f.reserved_concurrent_executions == null])
    error_message = "No concurrency is reserved unless asked for."
  }
}

run "code_and_hashes_come_from_the_build_manifest" {
  command = plan

  assert {
    condition     = aws_lambda_function.this["publish"].filename == "./tests/fixtures/artifacts/functions/publish.zip"
    error_message = "Function code must be the zip named in the build manifest."
  }

  assert {
    condition     = aws_lambda_function.this["publish"].source_code_hash == "Zml4dHVyZS1oYXNoLW5vdC1hLXJlYWwtemlwLWZpbGUAAA=="
    error_message = "source_code_hash must be the build manifest's sha256_base64."
  }

  assert {
    condition     = aws_lambda_layer_version.this.filename == "./tests/fixtures/artifacts/layer.zip" && aws_lambda_layer_version.this.source_code_hash == "bGF5ZXItZml4dHVyZS1oYXNoLW5vdC1hLXJlYWwtemlwAA=="
    error_message = "The layer must be the build manifest's layer zip and hash."
  }

  assert {
    condition     = aws_lambda_layer_version.this.compatible_runtimes == toset(["python3.13"]) && aws_lambda_layer_version.this.compatible_architectures == toset(["arm64"])
    error_message = "The layer must declare the runtime and architecture it was built for."
  }
}

run "environment_matches_what_each_function_does" {
  command = plan

  assert {
    condition     = !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "TABLE_NAME") && !contains(keys(aws_lambda_function.this["default"].environment[0].variables), "TABLE_NAME")
    error_message = "Functions without table access (authorizer, default) get no TABLE_NAME."
  }

  assert {
    condition     = aws_lambda_function.this["connect"].environment[0].variables["TABLE_NAME"] == "chat-test-websocket" && aws_lambda_function.this["connect"].environment[0].variables["CONNECTION_TTL_SECONDS"] == "660" && aws_lambda_function.this["connect"].environment[0].variables["MAX_CONNECTION_SECONDS"] == "7200"
    error_message = "Connection handlers need TABLE_NAME and the connection lifetimes."
  }

  assert {
    condition     = aws_lambda_function.this["send_message"].environment[0].variables["FANOUT_QUEUE_URL"] == aws_sqs_queue.this["fanout"].url && aws_lambda_function.this["send_message"].environment[0].variables["FANOUT_THRESHOLD"] == "100"
    error_message = "send_message needs the fan-out queue URL and threshold."
  }

  assert {
    condition     = contains(keys(aws_lambda_function.this["publish"].environment[0].variables), "FANOUT_QUEUE_URL") && !contains(keys(aws_lambda_function.this["get_history"].environment[0].variables), "FANOUT_QUEUE_URL") && aws_lambda_function.this["join_room"].environment[0].variables["HISTORY_RETENTION_SECONDS"] == "86400"
    error_message = "Only functions that send to the fan-out queue get its URL."
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : contains(["authorizer", "connect", "default"], k) == !contains(keys(f.environment[0].variables), "MANAGEMENT_ENDPOINT")])
    error_message = "Exactly the functions that post to connections get MANAGEMENT_ENDPOINT."
  }

  assert {
    condition     = aws_lambda_function.this["heartbeat"].environment[0].variables["MANAGEMENT_ENDPOINT"] == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/test"
    error_message = "MANAGEMENT_ENDPOINT must be https://API.execute-api.REGION.amazonaws.com/STAGE."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.environment[0].variables["LOG_LEVEL"] == "INFO" && f.environment[0].variables["TRACING_ENABLED"] == "false"])
    error_message = "Every function gets LOG_LEVEL, and TRACING_ENABLED=false: the default layer has no X-Ray SDK."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.environment[0].variables["METRIC_NAMESPACE"] == "ServerlessWebSocket" && f.environment[0].variables["METRIC_PROJECT"] == "chat" && f.environment[0].variables["METRIC_ENV"] == "test"])
    error_message = "Every function's metrics must carry the deployment (Project, Env) in the configured namespace."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_SECRET_CACHE_SECONDS"] == "300"
    error_message = "An HS256 authorizer must get the secret's cache age."
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : contains(["authorizer", "refresh_token"], k) || length([for v in keys(f.environment[0].variables) : v if startswith(v, "JWT_")]) == 0])
    error_message = "JWT settings go to the functions that verify tokens only."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : !contains(keys(f.environment[0].variables), "DEV_MODE") && !contains(keys(f.environment[0].variables), "JWT_DEV_SECRET")])
    error_message = "DEV_MODE and JWT_DEV_SECRET are for the local gateway only and must never be deployed."
  }

  assert {
    condition     = aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_CONNECTION_PER_SECOND"] == "10" && aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_CONNECTION_BURST"] == "20" && aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_TENANT_PER_SECOND"] == "100" && aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_TENANT_BURST"] == "200" && !contains(keys(aws_lambda_function.this["send_message"].environment[0].variables), "TENANT_RATE_LIMITS")
    error_message = "send_message must get the default rate limits (10/s bursts of 20 per connection, 100/s bursts of 200 per tenant) and no TENANT_RATE_LIMITS when no tenant has its own."
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : (k == "send_message") == anytrue([for v in keys(f.environment[0].variables) : startswith(v, "RATE_LIMIT_")])])
    error_message = "Rate limits go to the function of the one limited action (the manifest's rate_limits), sendMessage, only."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_RATE_LIMIT_CLAIM"] == "rate_limit"
    error_message = "The authorizer must be told the name of the rate-limit claim (default rate_limit)."
  }
}

run "settings_reach_the_environment" {
  command = plan

  variables {
    artifacts_dir     = "./tests/fixtures/artifacts_xray"
    log_level         = "WARN"
    metrics_namespace = "Acme/Realtime"
    fanout_threshold  = 250
    connection        = { ttl_seconds = 900, max_seconds = 3600 }
    xray_sdk_enabled  = true
    presence          = { coalesce_threshold = 500 }
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : contains(["authorizer", "default"], k) || (f.environment[0].variables["PRESENCE_COALESCE_THRESHOLD"] == "500" && f.environment[0].variables["PRESENCE_INTERVAL_SECONDS"] == "2")])
    error_message = "presence settings (with the interval's default) must reach every function with table access."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.environment[0].variables["TRACING_ENABLED"] == "true" && f.tracing_config[0].mode == "Active"])
    error_message = "xray_sdk_enabled must reach every function as TRACING_ENABLED=true, with active tracing."
  }

  assert {
    condition     = aws_lambda_function.this["publish"].environment[0].variables["FANOUT_THRESHOLD"] == "250" && aws_lambda_function.this["heartbeat"].environment[0].variables["CONNECTION_TTL_SECONDS"] == "900" && aws_lambda_function.this["heartbeat"].environment[0].variables["MAX_CONNECTION_SECONDS"] == "3600"
    error_message = "fanout_threshold and connection settings must reach the environment."
  }

  assert {
    condition     = aws_lambda_function.this["publish"].environment[0].variables["LOG_LEVEL"] == "WARN" && aws_lambda_function.this["publish"].environment[0].variables["METRIC_NAMESPACE"] == "Acme/Realtime"
    error_message = "log_level and metrics_namespace must reach every function."
  }
}

run "rate_limits_reach_the_environment" {
  command = plan

  variables {
    rate_limit_per_connection = { per_second = 0.5, burst = 3 }
    rate_limit_per_tenant     = { per_second = 0 }
    tenant_rate_limits        = { acme = { per_second = 2, burst = 4 }, "big.co" = { per_second = 1000, burst = 100000 } }
    jwt = {
      secret_arn       = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-test-jwt-AbCdEf"
      issuer           = "https://auth.example.com/"
      audience         = "chat"
      rate_limit_claim = "custom:ws_rate"
    }
  }

  assert {
    condition     = aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_CONNECTION_PER_SECOND"] == "0.5" && aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_CONNECTION_BURST"] == "3" && aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_TENANT_PER_SECOND"] == "0" && aws_lambda_function.this["send_message"].environment[0].variables["RATE_LIMIT_TENANT_BURST"] == "200"
    error_message = "rate_limit_per_connection and rate_limit_per_tenant must reach send_message, unset fields at their defaults."
  }

  assert {
    condition     = jsondecode(aws_lambda_function.this["send_message"].environment[0].variables["TENANT_RATE_LIMITS"]) == { acme = { perSecond = 2, burst = 4 }, "big.co" = { perSecond = 1000, burst = 100000 } }
    error_message = "tenant_rate_limits must reach send_message as TENANT_RATE_LIMITS, JSON of {perSecond, burst} per tenant."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["JWT_RATE_LIMIT_CLAIM"] == "custom:ws_rate" && aws_lambda_function.this["refresh_token"].environment[0].variables["JWT_RATE_LIMIT_CLAIM"] == "custom:ws_rate"
    error_message = "jwt.rate_limit_claim must reach the functions that verify tokens."
  }
}

run "overrides_replace_manifest_settings" {
  command = plan

  variables {
    function_overrides = {
      send_message  = { memory_mb = 1024, timeout_s = 20 }
      fanout_worker = { reserved_concurrency = 50, timeout_s = 120 }
    }
  }

  assert {
    condition     = aws_lambda_function.this["send_message"].memory_size == 1024 && aws_lambda_function.this["send_message"].timeout == 20
    error_message = "memory_mb and timeout_s overrides must replace the manifest values."
  }

  assert {
    condition     = aws_lambda_function.this["fanout_worker"].reserved_concurrent_executions == 50 && aws_lambda_function.this["fanout_worker"].memory_size == 512
    error_message = "reserved_concurrency must be applied; unset fields keep the manifest value."
  }

  assert {
    condition     = aws_sqs_queue.this["fanout"].visibility_timeout_seconds == 720
    error_message = "The consumer's queue visibility must follow its overridden timeout (6 x 120 s)."
  }
}

run "x86_64_and_python312_are_supported_when_built_for" {
  command = plan

  variables {
    lambda_architecture = "x86_64"
    lambda_runtime      = "python3.12"
    artifacts_dir       = "./tests/fixtures/artifacts_x86_64"
  }

  assert {
    condition     = aws_lambda_function.this["connect"].architectures == tolist(["x86_64"]) && aws_lambda_function.this["connect"].runtime == "python3.12"
    error_message = "Runtime and architecture must follow the variables."
  }
}

run "artifacts_built_for_another_architecture_are_rejected" {
  command = plan

  variables {
    lambda_architecture = "x86_64"
  }

  expect_failures = [aws_lambda_layer_version.this]
}

run "snap_start_publishes_versions_and_wires_the_alias" {
  command = plan

  variables {
    snap_start_enabled = true
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : f.publish == true && f.snap_start[0].apply_on == "PublishedVersions"])
    error_message = "SnapStart applies to published versions: every function must publish one."
  }

  assert {
    condition     = toset(keys(aws_lambda_alias.live)) == toset(keys(aws_lambda_function.this)) && alltrue([for a in values(aws_lambda_alias.live) : a.name == "live"])
    error_message = "Every function needs the live alias."
  }

  assert {
    condition     = alltrue([for i in values(aws_apigatewayv2_integration.this) : endswith(i.integration_uri, ":live/invocations")])
    error_message = "Routes must invoke the alias ($LATEST has no snapshot)."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this.authorizer_uri == aws_lambda_alias.live["authorizer"].invoke_arn && aws_lambda_permission.authorizer.qualifier == "live"
    error_message = "The authorizer must invoke, and be allowed to invoke, the alias."
  }

  assert {
    condition     = alltrue([for p in values(aws_lambda_permission.route) : p.qualifier == "live"])
    error_message = "Invoke permissions must name the alias."
  }

  assert {
    condition     = alltrue([for m in concat(values(aws_lambda_event_source_mapping.sqs), values(aws_lambda_event_source_mapping.stream)) : endswith(m.function_name, ":live")])
    error_message = "Event source mappings must invoke the alias."
  }

  assert {
    condition     = output.publish_function_arn == aws_lambda_alias.live["publish"].arn
    error_message = "Backends must be given the alias to invoke."
  }
}

run "snap_start_is_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_lambda_alias.live) == 0 && alltrue([for f in values(aws_lambda_function.this) : f.publish != true && length(f.snap_start) == 0])
    error_message = "SnapStart is opt-in."
  }
}

run "snap_start_needs_python_312_or_later" {
  command = plan

  variables {
    snap_start_enabled = true
    lambda_runtime     = "python3.11"
    artifacts_dir      = "./tests/fixtures/artifacts_python311"
  }

  expect_failures = [aws_lambda_function.this]
}

run "xray_needs_a_build_that_ships_the_sdk" {
  command = plan

  variables {
    xray_sdk_enabled = true
  }

  expect_failures = [aws_lambda_layer_version.this]
}

run "artifacts_missing_a_function_are_rejected" {
  command = plan

  variables {
    artifacts_dir = "./tests/fixtures/artifacts_incomplete"
  }

  expect_failures = [aws_lambda_function.this]
}

run "artifacts_dir_must_hold_a_build_manifest" {
  command = plan

  variables {
    artifacts_dir = "./tests/fixtures/no-such-build"
  }

  expect_failures = [aws_lambda_layer_version.this]
}

run "without_artifacts_dir_the_release_layout_is_expected" {
  command = plan

  # A release archive carries the build in <module>/artifacts; this repository's module
  # directory does not, so the plan must stop and say so.
  variables {
    artifacts_dir = null
  }

  expect_failures = [aws_lambda_layer_version.this]
}

run "artifacts_dir_cannot_be_empty" {
  command = plan

  variables {
    artifacts_dir = " "
  }

  expect_failures = [var.artifacts_dir]
}

run "override_keys_must_be_manifest_functions" {
  command = plan

  variables {
    function_overrides = { send_mesage = { memory_mb = 1024 } }
  }

  expect_failures = [aws_lambda_layer_version.this]
}

run "route_functions_cannot_outlive_the_integration_timeout" {
  command = plan

  variables {
    function_overrides = { send_message = { timeout_s = 30 } }
  }

  expect_failures = [aws_lambda_function.this]
}

run "reserved_concurrency_cannot_starve_the_sqs_poller" {
  command = plan

  variables {
    function_overrides = { fanout_worker = { reserved_concurrency = 5 } }
  }

  expect_failures = [aws_lambda_function.this]
}

run "reserved_concurrency_fits_the_default_quota" {
  command = plan

  variables {
    function_overrides = { fanout_worker = { reserved_concurrency = 40 }, publish = { reserved_concurrency = 20 }, stream_cleanup = { reserved_concurrency = 10 } }
  }

  # 70 reserved of 1,000 (tests/mocks): the check passes, so no failure is expected.
  assert {
    condition     = sum([for f in values(aws_lambda_function.this) : coalesce(f.reserved_concurrent_executions, 0)]) == 70
    error_message = "The reservations must reach the functions."
  }
}

run "reserved_concurrency_above_a_new_accounts_quota_is_reported_at_plan_time" {
  command = plan

  variables {
    function_overrides = { fanout_worker = { reserved_concurrency = 40 }, publish = { reserved_concurrency = 20 }, stream_cleanup = { reserved_concurrency = 10 } }
  }

  # New accounts often start at 10 concurrent executions.
  override_data {
    target = data.aws_servicequotas_service_quota.lambda_concurrency
    values = { value = 10 }
  }

  expect_failures = [check.lambda_concurrency_quota]
}

run "reserved_concurrency_must_leave_100_unreserved" {
  command = plan

  variables {
    function_overrides = { fanout_worker = { reserved_concurrency = 40 }, publish = { reserved_concurrency = 20 }, stream_cleanup = { reserved_concurrency = 10 } }
  }

  override_data {
    target = data.aws_servicequotas_service_quota.lambda_concurrency
    values = { value = 169 }
  }

  expect_failures = [check.lambda_concurrency_quota]
}

run "runtime_is_an_enum" {
  command = plan

  variables {
    lambda_runtime = "python3.9"
  }

  expect_failures = [var.lambda_runtime]
}

run "architecture_is_an_enum" {
  command = plan

  variables {
    lambda_architecture = "arm"
  }

  expect_failures = [var.lambda_architecture]
}

run "override_memory_is_bounded" {
  command = plan

  variables {
    function_overrides = { connect = { memory_mb = 64 } }
  }

  expect_failures = [var.function_overrides]
}

run "override_timeout_is_bounded" {
  command = plan

  variables {
    function_overrides = { fanout_worker = { timeout_s = 901 } }
  }

  expect_failures = [var.function_overrides]
}

run "override_reserved_concurrency_is_bounded" {
  command = plan

  variables {
    function_overrides = { fanout_worker = { reserved_concurrency = -1 } }
  }

  expect_failures = [var.function_overrides]
}

run "log_level_is_an_enum" {
  command = plan

  variables {
    log_level = "VERBOSE"
  }

  expect_failures = [var.log_level]
}

run "log_level_uses_lambdas_names" {
  command = plan

  variables {
    log_level = "WARNING"
  }

  expect_failures = [var.log_level]
}

run "metrics_namespace_cannot_be_an_aws_namespace" {
  command = plan

  variables {
    metrics_namespace = "AWS/Lambda"
  }

  expect_failures = [var.metrics_namespace]
}

run "connection_ttl_is_bounded" {
  command = plan

  variables {
    connection = { ttl_seconds = 30 }
  }

  expect_failures = [var.connection]
}

run "connection_cap_cannot_exceed_two_hours_or_undercut_the_ttl" {
  command = plan

  variables {
    connection = { ttl_seconds = 900, max_seconds = 600 }
  }

  expect_failures = [var.connection]
}

run "fanout_threshold_is_bounded" {
  command = plan

  variables {
    fanout_threshold = 0
  }

  expect_failures = [var.fanout_threshold]
}

run "presence_interval_must_be_whole_seconds" {
  command = plan

  variables {
    presence = { interval_seconds = 0.5 }
  }

  expect_failures = [var.presence]
}

run "presence_threshold_must_be_positive" {
  command = plan

  variables {
    presence = { coalesce_threshold = 0 }
  }

  expect_failures = [var.presence]
}

run "connection_rate_limit_is_bounded" {
  command = plan

  variables {
    rate_limit_per_connection = { per_second = 1001 }
  }

  expect_failures = [var.rate_limit_per_connection]
}

run "connection_rate_limit_burst_is_a_whole_number" {
  command = plan

  variables {
    rate_limit_per_connection = { burst = 2.5 }
  }

  expect_failures = [var.rate_limit_per_connection]
}

run "tenant_rate_limit_cannot_be_negative" {
  command = plan

  variables {
    rate_limit_per_tenant = { per_second = -1 }
  }

  expect_failures = [var.rate_limit_per_tenant]
}

run "tenant_rate_limit_burst_is_at_least_one" {
  command = plan

  variables {
    rate_limit_per_tenant = { burst = 0 }
  }

  expect_failures = [var.rate_limit_per_tenant]
}

run "tenant_rate_limits_are_keyed_by_tenant_id" {
  command = plan

  variables {
    tenant_rate_limits = { "acme#eu" = { per_second = 1, burst = 1 } }
  }

  expect_failures = [var.tenant_rate_limits]
}

run "tenant_rate_limits_are_bounded" {
  command = plan

  variables {
    tenant_rate_limits = { acme = { per_second = 5, burst = 100001 } }
  }

  expect_failures = [var.tenant_rate_limits]
}

run "tenant_rate_limits_fit_the_lambda_environment" {
  command = plan

  variables {
    tenant_rate_limits = { for i in range(80) : format("tenant-%03d-with-a-long-name", i) => { per_second = 10, burst = 20 } }
  }

  expect_failures = [var.tenant_rate_limits]
}
