# WebSocket API, authorizer, routes, integrations, permissions and stage.

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

run "api_is_websocket_routed_by_action" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "WEBSOCKET"
    error_message = "The API must be a WEBSOCKET API."
  }

  assert {
    condition     = aws_apigatewayv2_api.this.route_selection_expression == "$request.body.action"
    error_message = "Routes must be selected by the body's action field by default."
  }

  assert {
    condition     = aws_apigatewayv2_api.this.name == "chat-test-websocket"
    error_message = "The API name must be <project>-<env>-websocket."
  }
}

run "every_manifest_route_exists_with_a_lambda_proxy" {
  command = plan

  assert {
    condition     = toset(keys(aws_apigatewayv2_route.this)) == toset(["$connect", "$disconnect", "$default", "heartbeat", "joinRoom", "leaveRoom", "sendMessage", "getPresence", "getHistory", "refreshToken"])
    error_message = "The API must have exactly the eight protocol routes of the manifest."
  }

  assert {
    condition     = alltrue([for k, r in aws_apigatewayv2_route.this : r.route_key == k])
    error_message = "Each route must carry the route key it is indexed by."
  }

  assert {
    condition     = alltrue([for i in values(aws_apigatewayv2_integration.this) : i.integration_type == "AWS_PROXY" && i.integration_method == "POST"])
    error_message = "Every integration must be a Lambda proxy (AWS_PROXY, POST)."
  }

  assert {
    condition     = alltrue([for k, r in aws_apigatewayv2_route.this : r.target == "integrations/${aws_apigatewayv2_integration.this[k].id}"])
    error_message = "Every route must target its own integration."
  }
}

run "only_connect_is_authorized_by_the_jwt_authorizer" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_authorizer.this.authorizer_type == "REQUEST"
    error_message = "The authorizer must be a REQUEST authorizer."
  }

  assert {
    condition     = toset(aws_apigatewayv2_authorizer.this.identity_sources) == toset(["route.request.querystring.token"])
    error_message = "The authorizer's identity source must be the token query parameter."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this.authorizer_uri == aws_lambda_function.this["authorizer"].invoke_arn
    error_message = "The authorizer must invoke the manifest's authorizer function."
  }

  assert {
    condition     = [for k, r in aws_apigatewayv2_route.this : k if r.authorization_type == "CUSTOM"] == ["$connect"]
    error_message = "Only $connect may use the CUSTOM authorizer (WebSocket routes after connect cannot)."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["$connect"].authorizer_id == "auth01"
    error_message = "$connect must reference the module's authorizer."
  }

  assert {
    condition     = aws_lambda_permission.authorizer.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/authorizers/auth01"
    error_message = "The authorizer's invoke permission must be scoped to this authorizer."
  }
}

run "request_response_routes_are_two_way" {
  command = plan

  assert {
    condition     = toset(keys(aws_apigatewayv2_route_response.this)) == toset(["$default", "heartbeat", "joinRoom", "leaveRoom", "sendMessage", "getPresence", "getHistory", "refreshToken"])
    error_message = "Every two_way route of the manifest (and only those) must have a route response."
  }

  assert {
    condition     = alltrue([for r in values(aws_apigatewayv2_route_response.this) : r.route_response_key == "$default"])
    error_message = "Route responses must use the $default key."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["sendMessage"].route_response_selection_expression == "$default"
    error_message = "Two-way routes need route_response_selection_expression = $default."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["$connect"].route_response_selection_expression == null && aws_apigatewayv2_route.this["$disconnect"].route_response_selection_expression == null
    error_message = "$connect and $disconnect are one-way."
  }
}

run "invoke_permissions_are_scoped_per_route" {
  command = plan

  assert {
    condition     = alltrue([for k, p in aws_lambda_permission.route : p.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/test/${k}"])
    error_message = "Each route's permission must be scoped to API/STAGE/ROUTE."
  }

  assert {
    condition     = aws_lambda_permission.route["sendMessage"].function_name == aws_lambda_function.this["send_message"].function_name
    error_message = "sendMessage must allow exactly its own function to be invoked."
  }

  assert {
    condition     = alltrue([for p in values(aws_lambda_permission.route) : p.principal == "apigateway.amazonaws.com" && p.action == "lambda:InvokeFunction"])
    error_message = "Permissions must grant lambda:InvokeFunction to API Gateway only."
  }
}

run "endpoints_are_derived_from_api_and_stage" {
  command = plan

  assert {
    condition     = output.websocket_url == "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/test"
    error_message = "websocket_url must be wss://API.execute-api.REGION.amazonaws.com/STAGE."
  }

  assert {
    condition     = output.management_endpoint == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/test"
    error_message = "management_endpoint must be https://API.execute-api.REGION.amazonaws.com/STAGE."
  }
}

run "management_endpoint_follows_the_partition" {
  command = plan

  # aws-cn: the API's endpoint ends in amazonaws.com.cn.
  override_resource {
    target          = aws_apigatewayv2_api.this
    override_during = plan
    values = {
      id            = "a1b2c3d4e5"
      api_endpoint  = "wss://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn"
      execution_arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3d4e5"
    }
  }

  assert {
    condition     = output.management_endpoint == "https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/test"
    error_message = "The @connections endpoint must be derived from the API's endpoint, not assume amazonaws.com."
  }

  assert {
    condition     = alltrue([for f in values(aws_lambda_function.this) : lookup(f.environment[0].variables, "MANAGEMENT_ENDPOINT", "https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/test") == "https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/test"])
    error_message = "MANAGEMENT_ENDPOINT must be the same partition-correct endpoint."
  }
}

run "stage_auto_deploys_throttles_and_never_traces_data" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_stage.this.name == "test" && aws_apigatewayv2_stage.this.auto_deploy
    error_message = "The stage must be named after env and auto-deploy."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].data_trace_enabled == false
    error_message = "data_trace_enabled must be false: it would log message bodies."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].throttling_burst_limit == 500 && aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 1000
    error_message = "Default throttling must be burst 500 / rate 1000."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].detailed_metrics_enabled == false
    error_message = "Detailed metrics must be off by default."
  }

  assert {
    condition     = length(aws_apigatewayv2_stage.this.route_settings) == 0
    error_message = "No per-route settings unless asked for."
  }
}

run "access_logs_never_contain_the_query_string" {
  command = plan

  assert {
    condition     = aws_apigatewayv2_stage.this.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.access.arn
    error_message = "Access logs must go to the module's log group."
  }

  assert {
    condition     = !strcontains(lower(aws_apigatewayv2_stage.this.access_log_settings[0].format), "querystring")
    error_message = "The access log format must not contain the query string (it carries the JWT)."
  }

  assert {
    condition     = alltrue([for v in values(jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format)) : startswith(v, "$context.")])
    error_message = "The access log format must be JSON of $context fields only."
  }

  assert {
    condition     = alltrue([for f in ["requestId", "connectionId", "routeKey", "eventType", "status", "integrationError", "integrationLatency", "ip", "userAgent"] : contains(keys(jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format)), f)])
    error_message = "The access log must record request, connection, route, event, status, integration error/latency, ip and user agent."
  }
}

run "per_route_throttling_and_detailed_metrics" {
  command = plan

  variables {
    detailed_metrics_enabled = true
    stage_throttling         = { burst_limit = 2000, rate_limit = 4000 }
    route_throttling         = { sendMessage = { burst_limit = 100, rate_limit = 50 } }
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 4000 && aws_apigatewayv2_stage.this.default_route_settings[0].detailed_metrics_enabled
    error_message = "stage_throttling and detailed_metrics_enabled must reach the default route settings."
  }

  assert {
    condition     = [for s in aws_apigatewayv2_stage.this.route_settings : s.route_key] == ["sendMessage"]
    error_message = "route_throttling must create one route_settings block per route."
  }

  assert {
    condition     = alltrue([for s in aws_apigatewayv2_stage.this.route_settings : s.throttling_rate_limit == 50 && s.throttling_burst_limit == 100 && s.data_trace_enabled == false])
    error_message = "Per-route settings must carry the given limits and never trace data."
  }
}

run "custom_route_selection_expression_and_stage_name" {
  command = plan

  variables {
    route_selection_expression = "$request.body.type"
    stage_name                 = "v1"
  }

  assert {
    condition     = aws_apigatewayv2_api.this.route_selection_expression == "$request.body.type" && aws_apigatewayv2_stage.this.name == "v1"
    error_message = "route_selection_expression and stage_name must be applied."
  }

  assert {
    condition     = aws_lambda_permission.route["joinRoom"].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/v1/joinRoom" && output.websocket_url == "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
    error_message = "Permissions and URLs must follow a custom stage name."
  }
}

run "consumer_routes_get_integration_route_and_permission" {
  command = plan

  variables {
    consumer_routes = {
      searchMessages = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:search", two_way = true }
      typing         = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:typing:live" }
    }
  }

  assert {
    condition     = length(aws_apigatewayv2_route.this) == 12 && contains(keys(aws_apigatewayv2_route.this), "searchMessages") && contains(keys(aws_apigatewayv2_route.this), "typing")
    error_message = "Consumer routes must be added next to the manifest's eight."
  }

  assert {
    condition     = aws_apigatewayv2_integration.this["searchMessages"].integration_uri == "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:search/invocations"
    error_message = "A consumer route must invoke the consumer's function through its invoke URI."
  }

  assert {
    condition     = contains(keys(aws_apigatewayv2_route_response.this), "searchMessages") && !contains(keys(aws_apigatewayv2_route_response.this), "typing")
    error_message = "two_way consumer routes (only) get a route response."
  }

  assert {
    condition     = aws_lambda_permission.route["typing"].function_name == "arn:aws:lambda:eu-west-1:123456789012:function:typing:live" && aws_lambda_permission.route["typing"].source_arn == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/test/typing"
    error_message = "A consumer route's permission must name the consumer's function and be scoped to its route."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["getHistory"].authorization_type == "NONE"
    error_message = "Consumer routes are authorised by the connection ($connect), not by a route authorizer."
  }
}

run "permission_statement_ids_are_valid_and_unique_for_every_allowed_key" {
  command = plan

  variables {
    # Keys that differ only in "." vs "_" or ":" vs "-", and a 128-character key.
    consumer_routes = {
      "a.b"                                   = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:one" }
      "a_b"                                   = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:two" }
      "x:y"                                   = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:three" }
      "x-y"                                   = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:four" }
      (join("", [for i in range(128) : "k"])) = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:five" }
    }
  }

  assert {
    condition     = alltrue([for p in values(aws_lambda_permission.route) : can(regex("^[A-Za-z0-9_-]{1,100}$", p.statement_id))])
    error_message = "Statement ids must be at most 100 characters of [A-Za-z0-9_-]."
  }

  assert {
    condition     = length(distinct([for p in values(aws_lambda_permission.route) : p.statement_id])) == length(aws_lambda_permission.route)
    error_message = "Statement ids must be unique, also for keys that differ only in characters they cannot contain."
  }

  assert {
    condition     = startswith(aws_lambda_permission.route["sendMessage"].statement_id, "AllowApiGatewayRoute-sendMessage-") && startswith(aws_lambda_permission.route["$connect"].statement_id, "AllowApiGatewayRoute-_connect-")
    error_message = "Statement ids keep the route key readable."
  }
}

run "consumer_route_in_another_account_is_refused_at_plan_time" {
  command = plan

  variables {
    consumer_routes = {
      searchMessages = { function_arn = "arn:aws:lambda:eu-west-1:210987654321:function:search" }
    }
  }

  expect_failures = [aws_lambda_permission.route]
}

run "consumer_route_cannot_replace_a_manifest_route" {
  command = plan

  variables {
    consumer_routes = {
      sendMessage = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:mine" }
    }
  }

  expect_failures = [aws_apigatewayv2_api.this]
}

run "consumer_route_cannot_shadow_the_built_in_get_history" {
  command = plan

  variables {
    consumer_routes = {
      getHistory = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:history" }
    }
  }

  expect_failures = [aws_apigatewayv2_api.this]
}

run "consumer_route_key_cannot_be_a_dollar_route" {
  command = plan

  variables {
    consumer_routes = {
      "$custom" = { function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:mine" }
    }
  }

  expect_failures = [var.consumer_routes]
}

run "consumer_route_needs_a_lambda_arn" {
  command = plan

  variables {
    consumer_routes = {
      history = { function_arn = "history-function" }
    }
  }

  expect_failures = [var.consumer_routes]
}

run "route_throttling_must_name_an_existing_route" {
  command = plan

  variables {
    route_throttling = { sendMesage = { burst_limit = 10, rate_limit = 10 } }
  }

  expect_failures = [aws_apigatewayv2_stage.this]
}

run "route_throttling_limits_are_bounded" {
  command = plan

  variables {
    route_throttling = { sendMessage = { burst_limit = 10, rate_limit = 20000 } }
  }

  expect_failures = [var.route_throttling]
}

run "stage_throttling_limits_are_bounded" {
  command = plan

  variables {
    stage_throttling = { burst_limit = 6000 }
  }

  expect_failures = [var.stage_throttling]
}

run "route_selection_expression_must_select_a_body_field" {
  command = plan

  variables {
    route_selection_expression = "action"
  }

  expect_failures = [var.route_selection_expression]
}

run "stage_name_must_be_a_path_segment" {
  command = plan

  variables {
    stage_name = "my stage"
  }

  expect_failures = [var.stage_name]
}

run "stage_logging_level_is_an_enum" {
  command = plan

  variables {
    stage_logging_level = "DEBUG"
  }

  expect_failures = [var.stage_logging_level]
}
