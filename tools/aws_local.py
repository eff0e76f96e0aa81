"""Create the table and queues from the module manifest, for moto tests and the local gateway.

The definitions come from `modules/websocket_api/manifest.json`, the same file Terraform
reads, so the emulated resources cannot drift from the deployed ones. This is the only
place that turns the manifest into CreateTable and CreateQueue calls: the moto fixtures,
the cost model and the local gateway's embedded moto all call it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.manifest import read_manifest

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class EmulatedQueue:
    """A queue of the manifest as created, with its dead-letter queue."""

    env: str  # the variable that carries its URL to the functions (FANOUT_QUEUE_URL, ...)
    url: str
    arn: str
    dlq_url: str


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def create_table(dynamodb: Any, table_name: str, manifest: Mapping[str, Any] | None = None) -> str:
    """CreateTable (keys, GSIs, stream) + UpdateTimeToLive as dynamodb.tf declares them.

    Returns the table's stream ARN (the local gateway polls it).
    """
    spec = (manifest or read_manifest())["table"]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in spec["attributes"]
        ],
        "KeySchema": _key_schema(spec["hash_key"], spec.get("range_key")),
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": spec["stream_view_type"]},
    }
    indexes = [
        {
            "IndexName": g["name"],
            "KeySchema": _key_schema(g["hash_key"], g.get("range_key")),
            "Projection": {"ProjectionType": g.get("projection_type", "ALL")},
        }
        for g in spec.get("global_secondary_indexes", [])
    ]
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = indexes
    stream_arn: str = dynamodb.create_table(**kwargs)["TableDescription"]["LatestStreamArn"]
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["ttl_attribute"]},
    )
    return stream_arn


def create_queues(
    sqs: Any,
    prefix: str,
    manifest: Mapping[str, Any] | None = None,
    visibility_s: int | None = None,
) -> dict[str, EmulatedQueue]:
    """Each queue `<prefix>-<name>` with its DLQ and redrive policy, by manifest name.

    The visibility timeout is what sqs.tf sets, 6x the consumer's timeout (AWS's guidance),
    unless `visibility_s` says otherwise (the gateway's GATEWAY_SQS_VISIBILITY_S).
    """
    manifest = manifest or read_manifest()
    created: dict[str, EmulatedQueue] = {}
    for name, queue in manifest.get("queues", {}).items():
        dlq_url = sqs.create_queue(QueueName=f"{prefix}-{name}-dlq")["QueueUrl"]
        redrive = {
            "deadLetterTargetArn": _queue_arn(sqs, dlq_url),
            "maxReceiveCount": queue["max_receive_count"],
        }
        visibility = visibility_s
        if visibility is None:
            visibility = 6 * int(manifest["functions"][queue["consumer"]]["timeout_s"])
        url = sqs.create_queue(
            QueueName=f"{prefix}-{name}",
            Attributes={
                "RedrivePolicy": json.dumps(redrive),
                "VisibilityTimeout": str(visibility),
            },
        )["QueueUrl"]
        created[name] = EmulatedQueue(str(queue["env"]), url, _queue_arn(sqs, url), dlq_url)
    return created


def queue_environment(queues: Mapping[str, EmulatedQueue]) -> dict[str, str]:
    """The queue URL variables the module sets on the functions ({FANOUT_QUEUE_URL: url})."""
    return {queue.env: queue.url for queue in queues.values()}


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn
