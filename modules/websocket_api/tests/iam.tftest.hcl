# Least privilege: one role per function, permissions derived from the manifest.

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

run "no_policy_grants_a_wildcard_action" {
  command = plan

  assert {
    condition     = alltrue(flatten([for p in concat(values(aws_iam_role_policy.function), values(aws_iam_role_policy.api_and_stream)) : [for s in jsondecode(p.policy).Statement : [for a in s.Action : !strcontains(a, "*")]]]))
    error_message = "No statement may grant a wildcard action."
  }

  assert {
    condition     = alltrue(flatten([for p in concat(values(aws_iam_role_policy.function), values(aws_iam_role_policy.api_and_stream)) : [for s in jsondecode(p.policy).Statement : s.Effect == "Allow" && (s.Sid == "XRayTraces" || !contains(s.Resource, "*"))]]))
    error_message = "Resource \"*\" is only allowed for the X-Ray trace actions, which have no resource-level permissions."
  }

  assert {
    condition     = alltrue([for p in values(aws_iam_role_policy.function) : [for s in jsondecode(p.policy).Statement : s.Action if s.Sid == "XRayTraces"] == [["xray:PutTraceSegments", "xray:PutTelemetryRecords"]]])
    error_message = "Every function may send traces, and only that with Resource \"*\"."
  }
}

run "each_function_has_its_own_role" {
  command = plan

  assert {
    condition     = keys(aws_iam_role.function) == keys(aws_lambda_function.this) && alltrue([for k, f in aws_lambda_function.this : f.role == aws_iam_role.function[k].arn])
    error_message = "Every function must run with its own role."
  }

  assert {
    condition     = alltrue([for r in values(aws_iam_role.function) : jsondecode(r.assume_role_policy).Statement == [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]])
    error_message = "Roles must be assumable by the Lambda service only."
  }

  assert {
    condition     = alltrue([for k, p in aws_iam_role_policy.function : [for s in jsondecode(p.policy).Statement : s.Resource if s.Sid == "OwnLogGroup"] == [["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/chat-test-${k}:*"]]])
    error_message = "Each function may write to its own log group only."
  }
}

run "table_access_follows_the_manifest" {
  command = plan

  assert {
    condition     = alltrue([for k in ["authorizer", "default"] : !strcontains(aws_iam_role_policy.function[k].policy, "dynamodb:")])
    error_message = "Functions with dynamodb = none get no table access."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["join_room"].policy).Statement : s.Resource if s.Sid == "Table"] == [["arn:aws:dynamodb:eu-west-1:123456789012:table/chat-test-websocket"]]
    error_message = "Item actions must be scoped to the table ARN."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["join_room"].policy).Statement : s if s.Sid == "TableIndexes"] == [{ Sid = "TableIndexes", Effect = "Allow", Action = ["dynamodb:Query"], Resource = ["arn:aws:dynamodb:eu-west-1:123456789012:table/chat-test-websocket/index/*"] }]
    error_message = "Indexes get Query only, on table/index/*."
  }

  assert {
    condition     = !strcontains(aws_iam_role_policy.function["join_room"].policy, "dynamodb:Scan")
    error_message = "Nothing may Scan the table."
  }

  assert {
    condition     = contains([for s in jsondecode(aws_iam_role_policy.function["heartbeat"].policy).Statement : s.Action if s.Sid == "Table"][0], "dynamodb:UpdateItem")
    error_message = "dynamodb = write must allow item writes."
  }

  assert {
    condition     = toset([for s in jsondecode(aws_iam_role_policy.function["heartbeat"].policy).Statement : s.Action if s.Sid == "Table"][0]) == toset(["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"])
    error_message = "Only the item actions the code calls (BatchGetItem for presence states; no Scan, no ConditionCheckItem)."
  }
}

run "manage_connections_follows_the_manifest" {
  command = plan

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.api_and_stream["disconnect"].policy).Statement : s.Resource if s.Sid == "ManageConnections"] == [["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/test/POST/@connections/*"]]
    error_message = "A POST-only function may post to connections of this stage only."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.api_and_stream["stream_cleanup"].policy).Statement : s.Resource if s.Sid == "ManageConnections"] == [["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/test/DELETE/@connections/*", "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/test/POST/@connections/*"]]
    error_message = "Functions that close connections also get DELETE."
  }

  assert {
    condition     = alltrue([for k in ["disconnect", "fanout_worker"] : !strcontains(aws_iam_role_policy.api_and_stream[k].policy, "/DELETE/")])
    error_message = "DELETE only where the manifest says so."
  }

  assert {
    condition     = alltrue([for k in ["authorizer", "connect", "default"] : !contains(keys(aws_iam_role_policy.api_and_stream), k) && !strcontains(aws_iam_role_policy.function[k].policy, "execute-api:")])
    error_message = "Functions that never post get no ManageConnections."
  }
}

run "queue_and_stream_access_follows_the_manifest" {
  command = plan

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["send_message"].policy).Statement : s.Resource if s.Sid == "SendToQueues"] == [["arn:aws:sqs:eu-west-1:123456789012:chat-test-fanout"]]
    error_message = "send_message may send to the fan-out queue only."
  }

  assert {
    condition     = [for k, p in aws_iam_role_policy.function : k if strcontains(p.policy, "SendToQueues")] == ["disconnect", "fanout_worker", "join_room", "leave_room", "publish", "refresh_token", "send_message", "stream_cleanup"]
    error_message = "Only the functions whose manifest lists sqs_send may send to queues."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["publish"].policy).Statement : s.Resource if s.Sid == "ConsumeQueue"] == [["arn:aws:sqs:eu-west-1:123456789012:chat-test-publish"]] && [for s in jsondecode(aws_iam_role_policy.function["publish"].policy).Statement : s.Action if s.Sid == "ConsumeQueue"] == [["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]]
    error_message = "publish consumes the publish queue only, with what Lambda's SQS poller needs (no ChangeMessageVisibility: nothing calls it)."
  }

  assert {
    condition     = [for k, p in aws_iam_role_policy.function : k if strcontains(p.policy, "sqs:ReceiveMessage")] == ["fanout_worker", "publish"]
    error_message = "Only queue consumers may receive messages."
  }

  assert {
    condition     = [for k, p in merge(aws_iam_role_policy.function, aws_iam_role_policy.api_and_stream) : k if strcontains(p.policy, "dynamodb:GetRecords")] == ["stream_cleanup"]
    error_message = "Only stream_cleanup may read the stream."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.api_and_stream["stream_cleanup"].policy).Statement : s.Resource if s.Sid == "ReadTableStream"] == [[aws_dynamodb_table.this.stream_arn]]
    error_message = "Stream reads must be scoped to the stream ARN."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["stream_cleanup"].policy).Statement : s.Resource if s.Sid == "StreamFailureDestination"] == [["arn:aws:sqs:eu-west-1:123456789012:chat-test-stream-dlq"]]
    error_message = "stream_cleanup's role must be able to send failed batches to the stream DLQ."
  }
}

run "publishers_get_a_ready_policy" {
  command = plan

  assert {
    condition     = [for st in jsondecode(output.publisher_policy_json).Statement : st.Sid] == ["InvokePublish", "SendToPublishQueue"]
    error_message = "Without a customer managed key, publishers need invoke and send only."
  }

  assert {
    condition     = one([for st in jsondecode(output.publisher_policy_json).Statement : st.Resource if st.Sid == "SendToPublishQueue"]) == [aws_sqs_queue.this["publish"].arn]
    error_message = "Publishers may send to the publish queue only."
  }
}

run "publishers_get_the_queue_key_with_a_customer_managed_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
  }

  assert {
    condition     = one([for st in jsondecode(output.publisher_policy_json).Statement : st if st.Sid == "PublishQueueKey"]) == { Sid = "PublishQueueKey", Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = ["arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"] }
    error_message = "SQS needs kms:GenerateDataKey and kms:Decrypt from a producer on a queue encrypted with a customer managed key."
  }
}
