"""The handler edge: event parsing, liveness, and domain errors turned into frames.

Every request gets exactly one reply frame (ack or error) as the route's response; nothing
a client sends can produce a 5xx or a stack trace. A connection whose token has expired, or
whose item is gone, gets the error frame and is closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.errors import DomainError, ErrorCode, StaleConnection, TokenExpired
from wscore.events import WebSocketEvent
from wscore.logs import get_logger
from wscore.protocol import ack, encode, error, parse_request, peek
from wscore.services import services

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wscore.events import Identity
    from wscore.protocol import ClientRequest, Frame
    from wscore.repository import Connection
    from wscore.services import Services

log = get_logger("wscore.edge")

Response = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ActionContext:
    """Everything an action needs, established by the edge."""

    svc: Services
    event: WebSocketEvent
    identity: Identity
    connection: Connection
    request: ClientRequest
    endpoint: str
    now: float


Action = Callable[[ActionContext], "Mapping[str, Any]"]


def reply(frame: Frame) -> Response:
    return {"statusCode": 200, "body": encode(frame)}


def _close(svc: Services, event: WebSocketEvent, frame: Frame, now: int) -> Response:
    """Tell the client why, close the socket, and clean up after it."""
    svc.connections.close(event.connection_id, svc.endpoint(event), now, encode(frame))
    return {"statusCode": 200}


def handle_action(raw_event: Mapping[str, Any], action: str, fn: Action) -> Response:
    """Run one client action and return its two-way route response."""
    svc = services()
    event = WebSocketEvent.from_event(raw_event)
    _, request_id = peek(event.body)
    now = time.time()
    try:
        request = parse_request(event.body)
        request_id = request.request_id
        identity = event.identity
        conn = svc.connections.require_live(event.connection_id, identity, int(now))
        identity = svc.connections.identity_of(conn, identity)
        ctx = ActionContext(svc, event, identity, conn, request, svc.endpoint(event), now)
        return reply(ack(action, request_id, **fn(ctx)))
    except (TokenExpired, StaleConnection) as exc:
        log.info(
            "closing connection",
            extra={"reason": type(exc).__name__, "connectionId": event.connection_id},
        )
        return _close(svc, event, error(action, request_id, exc.code, exc.message), int(now))
    except DomainError as exc:
        frame = error(action, request_id, exc.code, exc.message, retry_after_ms=exc.retry_after_ms)
        return reply(frame)
    except Exception:
        log.exception(
            "action failed", extra={"action": action, "connectionId": event.connection_id}
        )
        message = "the server could not process the request; retry later"
        return reply(error(action, request_id, ErrorCode.INTERNAL_ERROR, message))
