"""heartbeat: extend the connection's lifetime and answer with the server time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wscore.edge import handle_action
from wscore.protocol import Action, iso_now
from wscore.services import services

if TYPE_CHECKING:
    from wscore.edge import ActionContext

ACTION = Action.HEARTBEAT
services()


def _heartbeat(ctx: ActionContext) -> dict[str, Any]:
    ctx.svc.connections.extend(ctx.connection, int(ctx.now))
    return {"serverTime": iso_now(ctx.now)}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _heartbeat)
