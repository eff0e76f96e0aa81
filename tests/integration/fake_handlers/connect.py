# mypy: disable-error-code="import-not-found"
"""Test double: registers the connection; `?status=NNN` makes $connect answer NNN."""

from __future__ import annotations

from typing import Any

import _fake


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    if "status" in query:
        return {"statusCode": int(query["status"])}
    rc = event["requestContext"]
    with _fake.LOCK:
        _fake.CONNECTIONS[rc["connectionId"]] = dict(rc["authorizer"])
        _fake.CONNECT_EVENTS[rc["connectionId"]] = event
    return {"statusCode": 200}
