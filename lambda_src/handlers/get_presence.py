"""getPresence: users online in a room, or in the whole tenant when no roomId is given,
a page at a time (`cursor`, `limit`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.protocol import Action, cursor_field, room_id
from wscore.rooms import page_limit, user_page_fields
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.GET_PRESENCE
services()


def _presence(ctx: ActionContext) -> dict[str, Any]:
    fields = ctx.request.fields
    room = room_id(fields, required=False)
    page = ctx.svc.rooms.presence(
        ctx.identity, room, int(ctx.now), cursor_field(fields), page_limit(fields)
    )
    out: dict[str, Any] = {} if room is None else {"roomId": room}
    return {**out, **user_page_fields(page, "users")}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _presence)
