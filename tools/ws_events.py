"""API Gateway WebSocket events for driving the handlers without a gateway (tests, bench).

The templates in fixtures/events are events as API Gateway sends them ($connect, a message,
$disconnect); `ws_event` fills in the connection id, the authorizer's identity and the
body. The local gateway builds its events from live requests instead (local_gateway.events).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "events"
FAR_FUTURE = 4102444800  # 2100-01-01


def load_event(name: str) -> dict[str, Any]:
    """One template as recorded: connect, message or disconnect."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def authorizer_context(
    user: str,
    tenant: str,
    exp: int = FAR_FUTURE,
    rooms: str = "",
    roles: str = "",
    *,
    rate_limit: str | None = None,
) -> dict[str, Any]:
    """requestContext.authorizer as API Gateway passes the authorizer's context on to the
    routes (the $connect event also carries the authorizer's `integrationLatency`);
    `rateLimit` only when the token had the rate-limit claim."""
    context = {
        "principalId": f"{tenant}/{user}",
        "userId": user,
        "tenantId": tenant,
        "tokenExp": str(exp),
        "roles": roles,
        "rooms": rooms,
    }
    if rate_limit is not None:
        context["rateLimit"] = rate_limit
    return context


def ws_event(
    kind: str,
    connection_id: str,
    user: str = "alice",
    tenant: str = "acme",
    body: Any = None,
    *,
    route: str | None = None,
    exp: int = FAR_FUTURE,
    rooms: str = "",
    rate_limit: str | None = None,
) -> dict[str, Any]:
    """A connect/message/disconnect event as API Gateway sends it."""
    event = copy.deepcopy(load_event(kind))
    rc = event["requestContext"]
    rc["connectionId"] = connection_id
    rc["authorizer"] = authorizer_context(user, tenant, exp, rooms, rate_limit=rate_limit)
    if kind == "connect":
        rc["authorizer"]["integrationLatency"] = 3
    if kind == "message":
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
        action = None
        if isinstance(body, dict):
            action = body.get("action")
        rc["routeKey"] = route or (action if isinstance(action, str) else "$default")
    return event
