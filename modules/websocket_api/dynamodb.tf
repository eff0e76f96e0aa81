# -----------------------------------------------------------------------------
# DynamoDB single table (keys, indexes, TTL and stream from the manifest)
# -----------------------------------------------------------------------------

locals {
  table = local.manifest.table
}

resource "aws_dynamodb_table" "this" {
  name         = "${local.name}-websocket"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = local.table.hash_key
  range_key    = local.table.range_key

  dynamic "attribute" {
    for_each = local.table.attributes
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.table.global_secondary_indexes
    content {
      name            = global_secondary_index.value.name
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = global_secondary_index.value.projection_type
    }
  }

  # Connections and memberships expire by themselves; TTL deletion is lazy, so readers
  # also treat expiresAt <= now as gone.
  ttl {
    attribute_name = local.table.ttl_attribute
    enabled        = true
  }

  # The stream feeds stream_cleanup (TTL deletions only, see the event filter).
  stream_enabled   = true
  stream_view_type = local.table.stream_view_type

  point_in_time_recovery {
    enabled = true
  }

  # enabled = true: the AWS managed key (aws/dynamodb) or the given customer managed key.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = var.table_deletion_protection

  tags = local.tags
}
