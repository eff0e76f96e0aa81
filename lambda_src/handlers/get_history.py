"""getHistory: a page of a room's stored messages, for resuming after a gap (v1.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.history import MAX_PAGE_LIMIT
from wscore.protocol import Action, int_field, room_id
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.GET_HISTORY
DEFAULT_LIMIT = 50
MAX_SEQ = 2**53  # JSON integers clients can represent exactly
services()


def _history(ctx: ActionContext) -> dict[str, Any]:
    room = room_id(ctx.request.fields)
    after_seq = int_field(ctx.request.fields, "afterSeq", 0, MAX_SEQ)
    limit = int_field(ctx.request.fields, "limit", 1, MAX_PAGE_LIMIT) or DEFAULT_LIMIT
    page = ctx.svc.rooms.history_page(ctx.identity, room, after_seq, limit, ctx.now)
    return {
        "roomId": room,
        "messages": page.messages,
        "latestSeq": page.latest_seq,
        "earliestSeq": page.earliest_seq,
        "hasMore": page.has_more,
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _history)
