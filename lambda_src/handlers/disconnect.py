"""$disconnect: remove the connection and its memberships, announce presence leave."""

from __future__ import annotations

import time
from typing import Any

from wscore.events import WebSocketEvent
from wscore.logs import get_logger
from wscore.services import services

log = get_logger("handlers.disconnect")
services()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    svc = services()
    ev = WebSocketEvent.from_event(event)
    removed = svc.connections.cleanup([ev.connection_id], svc.endpoint(ev), int(time.time()))
    log.info(
        "disconnected",
        extra={
            "connectionId": ev.connection_id,
            "removed": removed,
            "statusCode": ev.disconnect_status_code,
            "reason": ev.disconnect_reason,
        },
    )
    return {"statusCode": 200}
