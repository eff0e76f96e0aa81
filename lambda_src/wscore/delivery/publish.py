"""Server-side publish: backends push an event to a room, a user or a whole tenant.

Payload: {"tenantId": str, "target": {"roomId": str} | {"userId": str} | {"tenant": true},
"event": str, "data": any JSON}. Clients receive
{"type": "event", "target": {...}, "event": ..., "data": ...}. Only connections of that
tenant are ever addressed. An invalid payload raises InvalidRequest and delivers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.errors import InvalidRequest, PayloadTooLarge
from wscore.protocol import (
    EVENT_NAME_RE,
    ID_RE,
    ID_RULE,
    MAX_MESSAGE_BYTES,
    ROOM_ID_RE,
    encode,
    publish_event,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wscore.services import Services

_TARGET_KEYS = ({"roomId"}, {"userId"}, {"tenant"})


@dataclass(frozen=True, slots=True)
class PublishRequest:
    tenant_id: str
    target: dict[str, Any]
    event: str
    data: Any

    @classmethod
    def parse(cls, payload: object) -> PublishRequest:
        """Validate a publish payload; the message says exactly what is wrong."""
        if not isinstance(payload, dict):
            raise InvalidRequest("the payload must be a JSON object")
        unknown = set(payload) - {"tenantId", "target", "event", "data"}
        if unknown:
            raise InvalidRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        tenant = payload.get("tenantId")
        if not isinstance(tenant, str) or not ID_RE.fullmatch(tenant):
            raise InvalidRequest(f"tenantId must be {ID_RULE}")
        target = payload.get("target")
        if not isinstance(target, dict) or set(target) not in _TARGET_KEYS:
            raise InvalidRequest(
                'target must be exactly one of {"roomId": ...}, {"userId": ...}, {"tenant": true}'
            )
        if "roomId" in target and not (
            isinstance(target["roomId"], str) and ROOM_ID_RE.fullmatch(target["roomId"])
        ):
            raise InvalidRequest("target.roomId must be 1-128 characters of A-Z a-z 0-9 _ . : -")
        if "userId" in target and not (
            isinstance(target["userId"], str) and ID_RE.fullmatch(target["userId"])
        ):
            raise InvalidRequest(f"target.userId must be {ID_RULE}")
        if "tenant" in target and target["tenant"] is not True:
            raise InvalidRequest("target.tenant must be true")
        event = payload.get("event")
        if not isinstance(event, str) or not EVENT_NAME_RE.fullmatch(event):
            raise InvalidRequest("event must be 1-128 characters of A-Z a-z 0-9 _ . : -")
        if "data" not in payload:
            raise InvalidRequest("data is required (any JSON value, null included)")
        return cls(tenant, dict(target), event, payload["data"])


def publish(svc: Services, payload: Mapping[str, Any] | Any, now: int) -> dict[str, Any]:
    """Deliver a publish request; return counts (direct) or the number of queued jobs."""
    request = PublishRequest.parse(payload)
    try:
        frame = encode(publish_event(request.target, request.event, request.data))
    except ValueError:  # NaN/Infinity: Python's json accepted them from the caller
        raise InvalidRequest("data must be JSON: NaN and Infinity are not allowed") from None
    if len(frame.encode()) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"the event exceeds {MAX_MESSAGE_BYTES // 1024} KB once framed")
    repo, tenant = svc.repo, request.tenant_id
    if "roomId" in request.target:
        targets = [
            m.connection_id for m in repo.room_members(tenant, request.target["roomId"], now)
        ]
    elif "userId" in request.target:
        targets = [
            c.connection_id for c in repo.user_connections(tenant, request.target["userId"], now)
        ]
    else:
        targets = [c.connection_id for c in repo.tenant_connections(tenant, now)]
    report = svc.dispatch.deliver(svc.endpoint(), targets, frame, "event", now)
    if report.queued_jobs:
        return {"ok": True, "targets": len(targets), "queuedJobs": report.queued_jobs}
    return {
        "ok": True,
        "targets": len(targets),
        "delivered": report.delivered,
        "pruned": len(report.gone),
        "failed": len(report.failed),
    }
