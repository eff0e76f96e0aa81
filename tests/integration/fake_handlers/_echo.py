# mypy: disable-error-code="import-not-found"
"""Route test doubles: echo the event and the Lambda context (two-way)."""

from __future__ import annotations

import json
from typing import Any

import _fake


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = json.loads(event["body"])
    if body.get("explode"):
        raise RuntimeError("boom")
    if body.get("hold"):  # keep this invocation's thread busy until a "release" arrives
        _fake.GATE.wait(30)
    if body.get("release"):
        _fake.GATE.set()
    ctx = {
        "function_name": context.function_name,
        "aws_request_id": context.aws_request_id,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    route = event["requestContext"]["routeKey"]
    reply = {"route": route, "event": event, "context": ctx}
    if body.get("connectEvent"):  # this connection's $connect event, as the handler got it
        with _fake.LOCK:
            reply["connectEvent"] = _fake.CONNECT_EVENTS.get(
                event["requestContext"]["connectionId"]
            )
    return {"statusCode": 200, "body": json.dumps(reply)}
