# mypy: disable-error-code="import-not-found"
"""Test double: forgets the connection and tells the observers about the $disconnect."""

from __future__ import annotations

from typing import Any

import _fake


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rc = event["requestContext"]
    with _fake.LOCK:
        _fake.CONNECTIONS.pop(rc["connectionId"], None)
    _fake.notify_observers({"type": "disconnected", "event": event})
    return {"statusCode": 200}
