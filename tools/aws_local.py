"""Create the table and queues from the module manifest, for moto tests and the local gateway.

The definitions come from `modules/websocket_api/manifest.json`, the same file Terraform
reads, so the emulated resources cannot drift from the deployed ones.
"""

from __future__ import annotations

import json
from typing import Any

from tools.manifest import read_manifest


def create_table(dynamodb: Any, table_name: str, manifest: dict[str, Any] | None = None) -> None:
    """Create the single table (keys, GSIs, stream) and enable TTL, as the module does."""
    table = (manifest or read_manifest())["table"]
    dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in table["attributes"]
        ],
        KeySchema=[
            {"AttributeName": table["hash_key"], "KeyType": "HASH"},
            {"AttributeName": table["range_key"], "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": g["name"],
                "KeySchema": [
                    {"AttributeName": g["hash_key"], "KeyType": "HASH"},
                    {"AttributeName": g["range_key"], "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": g["projection_type"]},
            }
            for g in table["global_secondary_indexes"]
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": table["stream_view_type"]},
    )
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": table["ttl_attribute"]},
    )


def create_queues(
    sqs: Any, prefix: str, manifest: dict[str, Any] | None = None, visibility_s: int = 30
) -> dict[str, str]:
    """Create each queue with its DLQ and redrive policy; return {ENV_VAR: queue_url}."""
    urls: dict[str, str] = {}
    for name, queue in (manifest or read_manifest())["queues"].items():
        dlq_url = sqs.create_queue(QueueName=f"{prefix}-{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue["max_receive_count"]}
        url = sqs.create_queue(
            QueueName=f"{prefix}-{name}",
            Attributes={
                "RedrivePolicy": json.dumps(redrive),
                "VisibilityTimeout": str(visibility_s),
            },
        )["QueueUrl"]
        urls[queue["env"]] = url
        urls[f"{queue['env']}_DLQ"] = dlq_url
    return urls
