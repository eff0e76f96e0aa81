"""sendMessage: broadcast to the room's other connections (directly or through SQS).

The only rate-limited action: a valid request takes a token from the connection's and the
tenant's buckets (wscore.limits) before anything else is done, so a refused one (the
`rate_limited` error) numbers, stores and delivers nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.errors import InvalidRequest
from wscore.protocol import Action, bool_field, room_id
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.SEND_MESSAGE
services()


def _send(ctx: ActionContext) -> dict[str, Any]:
    room = room_id(ctx.request.fields)
    if "data" not in ctx.request.fields:
        raise InvalidRequest("data is required (any JSON value)")
    ephemeral = bool_field(ctx.request.fields, "ephemeral")
    ctx.svc.limiter.check(ctx.connection.connection_id, ctx.identity, ctx.now)
    message_id, seq = ctx.svc.rooms.send(
        ctx.connection,
        ctx.identity,
        room,
        data=ctx.request.fields["data"],
        ephemeral=ephemeral,
        endpoint=ctx.endpoint,
        now=ctx.now,
    )
    out: dict[str, Any] = {"roomId": room, "messageId": message_id}
    if seq is not None:
        out["seq"] = seq
    return out


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _send)
