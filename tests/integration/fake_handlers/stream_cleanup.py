# mypy: disable-error-code="import-not-found"
"""Test double: forwards the stream records it receives to the observers."""

from __future__ import annotations

from typing import Any

import _fake


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _fake.notify_observers({"type": "stream", "records": event["Records"]})
    return {"batchItemFailures": []}
