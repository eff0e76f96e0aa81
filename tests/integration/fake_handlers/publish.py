# mypy: disable-error-code="import-not-found"
"""Test double: direct invoke or SQS; posts `data` to every registered connection of `tenantId`."""

from __future__ import annotations

import json
from typing import Any

import _fake


def _publish(payload: dict[str, Any]) -> int:
    with _fake.LOCK:
        targets = [
            c for c, ctx in _fake.CONNECTIONS.items() if ctx.get("tenantId") == payload["tenantId"]
        ]
    for connection_id in targets:
        _fake.post(connection_id, {"type": "event", "data": payload["data"]})
    return len(targets)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:
        for record in event["Records"]:
            _publish(json.loads(record["body"]))
        return {"batchItemFailures": []}
    if "tenantId" not in event:
        raise ValueError("tenantId is required")
    return {"ok": True, "targets": _publish(event)}
