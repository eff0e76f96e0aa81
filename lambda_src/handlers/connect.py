"""$connect: store the connection the authorizer let in."""

from __future__ import annotations

import time
from typing import Any

from wscore.errors import Forbidden
from wscore.events import WebSocketEvent
from wscore.logs import get_logger
from wscore.services import services

log = get_logger("handlers.connect")
services()  # cold start: configuration errors fail here, loudly


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    svc = services()
    ev = WebSocketEvent.from_event(event)
    now = int(time.time())
    try:
        identity = ev.identity
    except Forbidden:
        log.warning("connect without authorizer context", extra={"connectionId": ev.connection_id})
        return {"statusCode": 403}
    if identity.token_exp <= now:
        return {"statusCode": 401}
    svc.connections.connect(ev.connection_id, identity, svc.endpoint(ev), now)
    return {"statusCode": 200}
