# -----------------------------------------------------------------------------
# SQS: fan-out and publish queues (from the manifest), their DLQs, the stream DLQ
# -----------------------------------------------------------------------------

locals {
  queues = {
    for name, q in local.manifest.queues : name => {
      consumer          = q.consumer
      max_receive_count = q.max_receive_count
      consumer_timeout  = local.functions[q.consumer].timeout_s
      # AWS's rule for Lambda consumers: at least 6x the function timeout, so a message is
      # not redelivered while a throttled or retried invocation still holds it.
      minimum_visibility = 6 * local.functions[q.consumer].timeout_s
      visibility_timeout = coalesce(try(var.queue_settings[name].visibility_timeout_seconds, null), 6 * local.functions[q.consumer].timeout_s)
      retention_seconds  = try(var.queue_settings[name].message_retention_seconds, 345600)
    }
  }

  # SSE everywhere: SQS-managed keys unless a customer managed key is given.
  sqs_managed_sse = var.kms_key_arn == null ? true : null
  dlq_retention   = 1209600 # 14 days, the maximum: time to inspect and redrive
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                      = "${local.name}-${each.key}-dlq"
  message_retention_seconds = local.dlq_retention
  sqs_managed_sse_enabled   = local.sqs_managed_sse
  kms_master_key_id         = var.kms_key_arn
  tags                      = local.tags

  lifecycle {
    precondition {
      condition     = length(setsubtract(toset(keys(var.queue_settings)), toset(keys(local.queues)))) == 0
      error_message = "queue_settings keys must be manifest queue names: ${join(", ", sort(keys(local.queues)))}."
    }
  }
}

resource "aws_sqs_queue" "this" {
  for_each = local.queues

  name                       = "${local.name}-${each.key}"
  visibility_timeout_seconds = each.value.visibility_timeout
  message_retention_seconds  = each.value.retention_seconds
  sqs_managed_sse_enabled    = local.sqs_managed_sse
  kms_master_key_id          = var.kms_key_arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  tags = local.tags

  lifecycle {
    precondition {
      condition     = each.value.visibility_timeout >= each.value.minimum_visibility
      error_message = "Queue ${each.key}: visibility timeout ${each.value.visibility_timeout} s is below 6x the timeout of its consumer ${each.value.consumer} (${each.value.consumer_timeout} s): set queue_settings.${each.key}.visibility_timeout_seconds >= ${each.value.minimum_visibility} or leave it null."
    }
    precondition {
      condition     = each.value.max_receive_count >= 5
      error_message = "manifest.json: queues.${each.key}.max_receive_count must be at least 5 so that throttled deliveries do not land in the DLQ."
    }
  }
}

# Only the matching source queue may move messages into a DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}

# On-failure destination of the table stream mapping: records that still fail after the
# bounded retries and bisection are parked here (metadata of the batch, not the items).
resource "aws_sqs_queue" "stream_dlq" {
  name                      = "${local.name}-stream-dlq"
  message_retention_seconds = local.dlq_retention
  sqs_managed_sse_enabled   = local.sqs_managed_sse
  kms_master_key_id         = var.kms_key_arn
  tags                      = local.tags
}
