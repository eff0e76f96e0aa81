"""getPresence: users online in a room, or in the whole tenant when no roomId is given."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.protocol import Action, room_id
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.GET_PRESENCE
services()


def _presence(ctx: ActionContext) -> dict[str, Any]:
    room = room_id(ctx.request.fields, required=False)
    users, truncated = ctx.svc.rooms.presence(ctx.identity, room, int(ctx.now))
    out: dict[str, Any] = {"users": [{"userId": u} for u in users]}
    if room is not None:
        out["roomId"] = room
    if truncated:
        out["truncated"] = True
    return out


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _presence)
