# mypy: disable-error-code="import-not-found"
"""Test double: each job {"to": ID, "data": X, "fail": bool} is posted, or reported failed."""

from __future__ import annotations

import json
from typing import Any

import _fake


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        job = json.loads(record["body"])
        if job.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        _fake.post(
            job["to"],
            {
                "data": job["data"],
                "receiveCount": record["attributes"]["ApproximateReceiveCount"],
                "eventSource": record["eventSource"],
            },
        )
    return {"batchItemFailures": failures}
