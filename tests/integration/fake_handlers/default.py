"""Test double for $default: echoes what it got (two-way)."""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps({"route": "$default", "event": event})}
