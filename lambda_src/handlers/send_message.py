"""sendMessage: broadcast to the room's other connections (directly or through SQS)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.errors import InvalidRequest
from wscore.protocol import Action, room_id
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.SEND_MESSAGE
services()


def _send(ctx: ActionContext) -> dict[str, Any]:
    room = room_id(ctx.request.fields)
    if "data" not in ctx.request.fields:
        raise InvalidRequest("data is required (any JSON value)")
    data = ctx.request.fields["data"]
    message_id = ctx.svc.rooms.send(
        ctx.connection, ctx.identity, room, data=data, endpoint=ctx.endpoint, now=ctx.now
    )
    return {"roomId": room, "messageId": message_id}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _send)
