"""Typed views of the API Gateway WebSocket events our functions receive.

The raw events are dicts shaped by API Gateway; handlers never index into them directly.
Identity comes only from `requestContext.authorizer` (set by our authorizer on $connect and
passed by API Gateway to every route), never from a message body.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from wscore.errors import Forbidden
from wscore.limits import Limit, limit_from_json

if TYPE_CHECKING:
    from collections.abc import Mapping

EventType = Literal["CONNECT", "MESSAGE", "DISCONNECT"]


def _split(value: object) -> tuple[str, ...]:
    if not isinstance(value, str) or not value:
        return ()
    return tuple(part for part in value.split(",") if part)


def _rate_limit(value: object) -> Limit | None:
    """The context's `rateLimit`: `{"perSecond": n, "burst": n}` as JSON, absent or ""."""
    if value is None or value == "":
        return None
    try:
        return limit_from_json(json.loads(str(value)))
    except ValueError:
        raise Forbidden("the authorizer context has an invalid rateLimit") from None


def _rate_limit_json(limit: Limit) -> str:
    per_second = int(limit.per_second) if limit.per_second.is_integer() else limit.per_second
    return json.dumps({"perSecond": per_second, "burst": limit.burst}, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is on the connection, as the authorizer established it."""

    user_id: str
    tenant_id: str
    token_exp: int
    roles: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()
    # The tenant's sendMessage limit from the token's claim (None: configuration decides).
    rate_limit: Limit | None = None

    @classmethod
    def from_authorizer(cls, ctx: Mapping[str, Any] | None) -> Identity:
        """Parse the flat authorizer context; API Gateway may pass values as strings."""
        if not ctx:
            raise Forbidden("the connection has no authorizer context")
        user, tenant, exp = ctx.get("userId"), ctx.get("tenantId"), ctx.get("tokenExp")
        if not isinstance(user, str) or not user or not isinstance(tenant, str) or not tenant:
            raise Forbidden("the authorizer context lacks userId or tenantId")
        try:
            token_exp = int(str(exp))
        except ValueError:
            raise Forbidden("the authorizer context lacks tokenExp") from None
        roles, rooms = _split(ctx.get("roles")), _split(ctx.get("rooms"))
        return cls(user, tenant, token_exp, roles, rooms, _rate_limit(ctx.get("rateLimit")))

    def allows_room(self, room_id: str) -> bool:
        """A token with a `rooms` claim may only use rooms matching one of its patterns."""
        if not self.rooms:
            return True
        return any(fnmatch.fnmatchcase(room_id, pattern) for pattern in self.rooms)

    @property
    def principal_id(self) -> str:
        """`tenant/user`: unambiguous because the authorizer refuses `/` in both ids."""
        return f"{self.tenant_id}/{self.user_id}"

    def to_context(self) -> dict[str, str]:
        """The flat string context the authorizer returns (inverse of from_authorizer)."""
        context = {
            "userId": self.user_id,
            "tenantId": self.tenant_id,
            "tokenExp": str(self.token_exp),
            "roles": ",".join(self.roles),
            "rooms": ",".join(self.rooms),
        }
        if self.rate_limit is not None:  # only with the claim: contexts stay as they were
            context["rateLimit"] = _rate_limit_json(self.rate_limit)
        return context


@dataclass(frozen=True, slots=True)
class WebSocketEvent:
    """A $connect, $disconnect or message event from an API Gateway WebSocket API."""

    event_type: EventType
    connection_id: str
    domain_name: str
    stage: str
    body: str | None
    authorizer: Mapping[str, Any] | None
    disconnect_status_code: int | None = None
    disconnect_reason: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> WebSocketEvent:
        rc = event.get("requestContext") or {}
        event_type = rc.get("eventType")
        if event_type not in ("CONNECT", "MESSAGE", "DISCONNECT"):
            raise ValueError(f"not an API Gateway WebSocket event (eventType={event_type!r})")
        status = rc.get("disconnectStatusCode")
        return cls(
            event_type=event_type,
            connection_id=str(rc["connectionId"]),
            domain_name=str(rc.get("domainName", "")),
            stage=str(rc.get("stage", "")),
            body=event.get("body"),
            authorizer=rc.get("authorizer"),
            disconnect_status_code=int(status) if status is not None else None,
            disconnect_reason=rc.get("disconnectReason"),
        )

    @property
    def identity(self) -> Identity:
        return Identity.from_authorizer(self.authorizer)

    @property
    def management_endpoint(self) -> str:
        """The @connections endpoint API Gateway documents for this event."""
        return f"https://{self.domain_name}/{self.stage}"
