"""$default: frames that match no route get invalid_json or unknown_action."""

from __future__ import annotations

from typing import Any

from wscore.edge import reply
from wscore.errors import DomainError, UnknownAction
from wscore.events import WebSocketEvent
from wscore.protocol import error, parse_request, peek, unknown_action_message


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ev = WebSocketEvent.from_event(event)
    action, request_id = peek(ev.body)
    try:
        parse_request(ev.body)
        raise UnknownAction(unknown_action_message(action))  # a known action with no route
    except DomainError as exc:
        return reply(error(action, request_id, exc.code, exc.message))
