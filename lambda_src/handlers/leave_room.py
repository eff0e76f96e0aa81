"""leaveRoom: leave a room (only the caller's own membership is touched)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.protocol import Action, room_id
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.LEAVE_ROOM
services()


def _leave(ctx: ActionContext) -> dict[str, Any]:
    room = room_id(ctx.request.fields)
    ctx.svc.rooms.leave(ctx.connection, ctx.identity, room, ctx.endpoint, int(ctx.now))
    return {"roomId": room}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _leave)
