# mypy: disable-error-code="import-not-found"
"""Test double: `{"action":"sendMessage","to":ID,"data":X}` posts X to ID via boto3;
`{"action":"sendMessage","queue":[...]}` enqueues fan-out jobs. Replies with the outcome."""

from __future__ import annotations

import json
import os
from typing import Any

import _fake
import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = json.loads(event["body"])
    if "queue" in body:
        sqs = boto3.client("sqs")
        for job in body["queue"]:
            sqs.send_message(QueueUrl=os.environ["FANOUT_QUEUE_URL"], MessageBody=json.dumps(job))
        return {"statusCode": 200, "body": json.dumps({"queued": len(body["queue"])})}
    outcome = _fake.post(body["to"], body["data"])
    return {"statusCode": 200, "body": json.dumps({"outcome": outcome})}
