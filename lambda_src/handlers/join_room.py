"""joinRoom: join a room of the caller's tenant; the ack lists the users online in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.protocol import Action, room_id
from wscore.rooms import page_limit, user_page_fields
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.JOIN_ROOM
services()


def _join(ctx: ActionContext) -> dict[str, Any]:
    room = room_id(ctx.request.fields)
    limit = page_limit(ctx.request.fields)
    page, latest_seq = ctx.svc.rooms.join(
        ctx.connection, ctx.identity, room, ctx.endpoint, int(ctx.now), limit=limit
    )
    return {"roomId": room, **user_page_fields(page, "members"), "latestSeq": latest_seq}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _join)
