# DynamoDB table, queues, DLQs, event source mappings and encryption at rest.

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

run "table_follows_the_manifest" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.this.hash_key == "PK" && aws_dynamodb_table.this.range_key == "SK"
    error_message = "The table must be on demand with PK/SK keys."
  }

  assert {
    condition     = toset([for g in aws_dynamodb_table.this.global_secondary_index : "${g.name}:${g.hash_key}:${g.range_key}:${g.projection_type}"]) == toset(["GSI1:GSI1PK:GSI1SK:ALL", "GSI2:GSI2PK:GSI2SK:ALL"])
    error_message = "The table must have GSI1 (GSI1PK/GSI1SK) and GSI2 (GSI2PK/GSI2SK), projecting ALL."
  }

  assert {
    condition     = length(aws_dynamodb_table.this.attribute) == 6 && alltrue([for a in aws_dynamodb_table.this.attribute : a.type == "S"])
    error_message = "Only key attributes are declared, all strings."
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].attribute_name == "expiresAt" && aws_dynamodb_table.this.ttl[0].enabled
    error_message = "TTL must be enabled on expiresAt."
  }

  assert {
    condition     = aws_dynamodb_table.this.stream_enabled && aws_dynamodb_table.this.stream_view_type == "NEW_AND_OLD_IMAGES"
    error_message = "The stream must be enabled with NEW_AND_OLD_IMAGES."
  }

  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must be on."
  }

  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled
    error_message = "The table must be encrypted with a KMS key (AWS managed unless kms_key_arn is given)."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "Deletion protection must be on by default."
  }
}

run "deletion_protection_can_be_turned_off" {
  command = plan

  variables {
    table_deletion_protection = false
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled == false
    error_message = "table_deletion_protection = false must reach the table."
  }
}

run "queues_have_dlqs_sse_and_a_safe_visibility_timeout" {
  command = plan

  assert {
    condition     = toset(keys(aws_sqs_queue.this)) == toset(["fanout", "publish"]) && toset(keys(aws_sqs_queue.dlq)) == toset(["fanout", "publish"])
    error_message = "The manifest's queues (fanout, publish) and one DLQ each must exist."
  }

  assert {
    condition     = aws_sqs_queue.this["fanout"].visibility_timeout_seconds == 360 && aws_sqs_queue.this["publish"].visibility_timeout_seconds == 360
    error_message = "Visibility timeout must default to 6x the consumer's timeout (6 x 60 s)."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this["fanout"].redrive_policy).maxReceiveCount == 5 && jsondecode(aws_sqs_queue.this["fanout"].redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq["fanout"].arn
    error_message = "Each queue must redrive to its DLQ after the manifest's max_receive_count."
  }

  assert {
    condition     = alltrue([for q in concat(values(aws_sqs_queue.this), values(aws_sqs_queue.dlq), [aws_sqs_queue.stream_dlq]) : q.sqs_managed_sse_enabled == true && q.kms_master_key_id == null])
    error_message = "Every queue must be encrypted (SQS-managed SSE without a KMS key)."
  }

  assert {
    condition     = aws_sqs_queue.dlq["publish"].message_retention_seconds == 1209600 && aws_sqs_queue.stream_dlq.message_retention_seconds == 1209600
    error_message = "DLQs keep messages for the maximum 14 days."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.dlq["fanout"].redrive_allow_policy).redrivePermission == "byQueue"
    error_message = "Only the matching source queue may use a DLQ."
  }
}

run "kms_key_encrypts_table_and_queues" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
  }

  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    error_message = "The table must use the given KMS key."
  }

  assert {
    condition     = alltrue([for q in concat(values(aws_sqs_queue.this), values(aws_sqs_queue.dlq), [aws_sqs_queue.stream_dlq]) : q.kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"])
    error_message = "Every queue must use the given KMS key instead of SQS-managed SSE."
  }

  assert {
    condition     = alltrue([for k in ["send_message", "publish", "fanout_worker", "stream_cleanup"] : length([for s in jsondecode(aws_iam_role_policy.function[k].policy).Statement : s if s.Sid == "QueueKey"]) == 1])
    error_message = "Queue producers and consumers must be allowed to use the key."
  }

  assert {
    condition     = alltrue([for k in ["authorizer", "connect", "heartbeat", "get_history"] : !strcontains(aws_iam_role_policy.function[k].policy, "kms:")])
    error_message = "Functions that touch no queue get no KMS permission."
  }
}

run "sqs_consumers_report_partial_batch_failures" {
  command = plan

  assert {
    condition     = toset(keys(aws_lambda_event_source_mapping.sqs)) == toset(["fanout_worker", "publish"])
    error_message = "Each manifest queue consumer must have an SQS event source mapping."
  }

  assert {
    condition     = alltrue([for m in values(aws_lambda_event_source_mapping.sqs) : m.function_response_types == toset(["ReportBatchItemFailures"])])
    error_message = "SQS mappings must use ReportBatchItemFailures."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.sqs["fanout_worker"].scaling_config[0].maximum_concurrency == 20 && aws_lambda_event_source_mapping.sqs["publish"].scaling_config[0].maximum_concurrency == 10
    error_message = "Maximum concurrency must come from the manifest."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.sqs["fanout_worker"].batch_size == 10 && aws_lambda_event_source_mapping.sqs["fanout_worker"].event_source_arn == aws_sqs_queue.this["fanout"].arn
    error_message = "fanout_worker must consume the fan-out queue with the manifest's batch size."
  }
}

run "stream_cleanup_sees_only_ttl_deletions" {
  command = plan

  assert {
    condition     = keys(aws_lambda_event_source_mapping.stream) == ["stream_cleanup"]
    error_message = "Only stream_cleanup reads the table stream."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.stream["stream_cleanup"].event_source_arn == aws_dynamodb_table.this.stream_arn && aws_lambda_event_source_mapping.stream["stream_cleanup"].starting_position == "LATEST"
    error_message = "The mapping must read the table's stream from LATEST."
  }

  assert {
    condition     = [for f in aws_lambda_event_source_mapping.stream["stream_cleanup"].filter_criteria[0].filter : jsondecode(f.pattern)] == [{ eventName = ["REMOVE"], userIdentity = { type = ["Service"], principalId = ["dynamodb.amazonaws.com"] }, dynamodb = { OldImage = { type = { S = ["connection"] } } } }]
    error_message = "The filter must pass only TTL deletions (REMOVEs by the DynamoDB service) of connection items."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.stream["stream_cleanup"].maximum_retry_attempts == 5 && aws_lambda_event_source_mapping.stream["stream_cleanup"].bisect_batch_on_function_error && aws_lambda_event_source_mapping.stream["stream_cleanup"].batch_size == 100
    error_message = "Retries must be bounded (manifest), with bisect on error and the manifest's batch size."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.stream["stream_cleanup"].destination_config[0].on_failure[0].destination_arn == aws_sqs_queue.stream_dlq.arn
    error_message = "Failed stream batches must go to the stream DLQ."
  }
}

run "larger_visibility_timeout_is_accepted" {
  command = plan

  variables {
    queue_settings = { fanout = { visibility_timeout_seconds = 900, message_retention_seconds = 86400 } }
  }

  assert {
    condition     = aws_sqs_queue.this["fanout"].visibility_timeout_seconds == 900 && aws_sqs_queue.this["fanout"].message_retention_seconds == 86400 && aws_sqs_queue.this["publish"].visibility_timeout_seconds == 360
    error_message = "queue_settings must apply to the named queue only."
  }
}

run "visibility_timeout_below_six_times_the_consumer_timeout_is_rejected" {
  command = plan

  variables {
    queue_settings = { fanout = { visibility_timeout_seconds = 300 } }
  }

  expect_failures = [aws_sqs_queue.this]
}

run "queue_visibility_timeout_is_bounded" {
  command = plan

  variables {
    queue_settings = { fanout = { visibility_timeout_seconds = 50000 } }
  }

  expect_failures = [var.queue_settings]
}

run "queue_retention_is_bounded" {
  command = plan

  variables {
    queue_settings = { publish = { message_retention_seconds = 30 } }
  }

  expect_failures = [var.queue_settings]
}

run "queue_settings_must_name_manifest_queues" {
  command = plan

  variables {
    queue_settings = { fan_out = { visibility_timeout_seconds = 900 } }
  }

  expect_failures = [aws_sqs_queue.dlq]
}

run "kms_key_must_be_a_key_arn" {
  command = plan

  variables {
    kms_key_arn = "alias/websocket"
  }

  expect_failures = [var.kms_key_arn]
}
