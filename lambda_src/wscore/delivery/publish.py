"""Server-side publish: backends push an event to a room, a user or a whole tenant.

Payload: {"tenantId": str, "target": {"roomId": str} | {"userId": str} | {"tenant": true},
"event": str, "data": any JSON, "ephemeral": bool (optional)}. Clients receive
{"type": "event", "target": {...}, "event": ..., "messageId": ..., "seq": ..., "data": ...};
room-targeted events are numbered and stored like room messages (unless ephemeral), so
they carry `seq`. Only connections of that tenant are ever addressed. An invalid payload
raises InvalidRequest and delivers nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.errors import InvalidRequest
from wscore.protocol import (
    EVENT_NAME_RE,
    ID_RE,
    ID_RULE,
    ROOM_ID_RE,
    bool_field,
    encode,
    publish_event,
)
from wscore.rooms import check_size

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
    ephemeral: bool = False

    @classmethod
    def parse(cls, payload: object) -> PublishRequest:
        """Validate a publish payload; the message says exactly what is wrong."""
        if not isinstance(payload, dict):
            raise InvalidRequest("the payload must be a JSON object")
        unknown = set(payload) - {"tenantId", "target", "event", "data", "ephemeral"}
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
        ephemeral = bool_field(payload, "ephemeral")
        return cls(tenant, dict(target), event, payload["data"], ephemeral)


def publish(svc: Services, payload: Mapping[str, Any] | Any, now: float) -> dict[str, Any]:
    """Deliver a publish request; return the counts (`queuedJobs` on the fan-out path)."""
    request = PublishRequest.parse(payload)
    tenant, target, message_id = request.tenant_id, request.target, uuid.uuid4().hex

    def frame_for(seq: int | None) -> str:
        return encode(publish_event(target, request.event, request.data, message_id, seq))

    room = target.get("roomId")
    persisted = room is not None and svc.rooms.history.enabled and not request.ephemeral
    try:
        check_size(frame_for(None), persisted, "event")
    except ValueError:  # NaN/Infinity: Python's json accepted them from the caller
        raise InvalidRequest("data must be JSON: NaN and Infinity are not allowed") from None
    repo, endpoint, seq = svc.repo, svc.endpoint(), None
    if room is not None:
        members = list(repo.room_members(tenant, room, int(now)))
        if persisted:
            seq, frame = svc.rooms.history.append(tenant, room, frame_for, now)
        else:
            frame = frame_for(None)
        report = svc.connections.deliver(endpoint, members, frame, "event", int(now))
        targets = len(members)
    else:
        if "userId" in target:
            conns = repo.user_connections(tenant, target["userId"], int(now))
        else:
            conns = list(repo.tenant_connections(tenant, int(now)))
        report = svc.connections.deliver(endpoint, conns, frame_for(None), "event", int(now))
        targets = len(conns)
    out: dict[str, Any] = {"ok": True, "targets": targets, "messageId": message_id}
    if seq is not None:
        out["seq"] = seq
    if report.queued_jobs:
        out["queuedJobs"] = report.queued_jobs
    else:
        out.update(delivered=report.delivered, pruned=len(report.gone), failed=len(report.failed))
    return out
