"""refreshToken: replace the connection's token in-band, before it expires (v1.1).

The token is verified exactly as the $connect authorizer verifies one (same settings, same
verifier) and must name the same user and tenant; the connection then lives on with the
new expiry and rooms claim instead of reconnecting.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from wscore.auth.authorizer import Authorizer
from wscore.auth.settings import AuthSettings
from wscore.auth.verify import AuthRejectedError
from wscore.edge import handle_action
from wscore.errors import Forbidden, InvalidRequest
from wscore.protocol import Action, iso_now
from wscore.services import services

if TYPE_CHECKING:
    from wscore.auth.verify import TokenVerifier
    from wscore.edge import ActionContext

ACTION = Action.REFRESH_TOKEN
services()


@functools.cache
def verifier() -> TokenVerifier:
    """The authorizer's verifier, built once per container from the same settings."""
    return Authorizer.from_settings(AuthSettings.from_env(os.environ)).verifier


verifier()  # cold start: a configuration error fails here, loudly


def _refresh(ctx: ActionContext) -> dict[str, Any]:
    token = ctx.request.fields.get("token")
    if not isinstance(token, str) or not token:
        raise InvalidRequest("token is required (a JWT string)")
    try:
        fresh = verifier().verify(token)
    except AuthRejectedError as exc:
        raise Forbidden(
            f"the token was refused ({exc.reason}); the connection keeps its old one"
        ) from None
    if (fresh.user_id, fresh.tenant_id) != (ctx.identity.user_id, ctx.identity.tenant_id):
        raise Forbidden("the token names another user or tenant; the connection keeps its old one")
    ctx.svc.connections.refresh(ctx.connection, fresh, ctx.endpoint, int(ctx.now))
    return {"expiresAt": iso_now(fresh.token_exp)}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_action(event, ACTION, _refresh)
