"""Client protocol v1: request parsing, reply frames and server events.

Every request gets exactly one reply frame, an ack or an error. Frames are plain dicts,
encoded compactly; nothing here talks to AWS.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, overload

from wscore.errors import ErrorCode, InvalidJson, InvalidRequest, UnknownAction

if TYPE_CHECKING:
    from collections.abc import Mapping


class Action(StrEnum):
    """The client actions: route keys of the API (manifest.json) and names in every frame."""

    JOIN_ROOM = "joinRoom"
    LEAVE_ROOM = "leaveRoom"
    SEND_MESSAGE = "sendMessage"
    HEARTBEAT = "heartbeat"
    GET_PRESENCE = "getPresence"
    GET_HISTORY = "getHistory"
    REFRESH_TOKEN = "refreshToken"  # noqa: S105 - an action name, not a secret


ACTIONS: tuple[str, ...] = tuple(Action)
# API Gateway's own routes, which every WebSocket API of this module has besides ACTIONS.
SYSTEM_ROUTES = ("$connect", "$disconnect", "$default")
ROUTE_KEYS = frozenset({*SYSTEM_ROUTES, *ACTIONS})
ROOM_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# Event names of server-side publish follow the room id rule.
EVENT_NAME_RE = ROOM_ID_RE
# Tenant and user ids (from the token, or named by a backend that publishes) end up inside
# `USER#{tenant}#{user}`-style keys and the `tenant/user` principal: `#`, `/`, `,`,
# whitespace and non-ASCII are refused so that they can never split a key.
ID_RE = re.compile(r"[A-Za-z0-9._:@|+=~-]{1,128}")
ID_RULE = "1-128 characters of A-Z a-z 0-9 . _ : @ | + = ~ -"
MAX_REQUEST_ID_CHARS = 128
# API Gateway's message limit; an outgoing frame above it cannot be delivered.
MAX_MESSAGE_BYTES = 128 * 1024

Frame = dict[str, Any]


def encode(frame: Mapping[str, Any]) -> str:
    """Compact JSON; non-ASCII kept as is (UTF-8 on the wire).

    A client can send a lone surrogate as a JSON escape ("\\ud800"); written raw it is not
    encodable as UTF-8, so such a frame is written with \\u escapes instead (same JSON value,
    valid UTF-8) rather than failing at the edge or on every recipient. NaN and Infinity
    raise ValueError: they are not JSON, and no client could parse the frame.
    """
    text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(frame, separators=(",", ":"), allow_nan=False)
    return text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:32]} is out of range")
    return value


def loads(text: str) -> Any:
    """Strict JSON: NaN/Infinity are not JSON and numbers that overflow to inf are refused.

    Python's json accepts both by default and would relay them as `NaN`/`Infinity`, which no
    standard JSON parser (a browser's JSON.parse) accepts. Deep nesting raises RecursionError,
    which callers treat as invalid JSON.
    """
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A parsed client frame: its action, optional requestId and the other fields."""

    action: str
    request_id: str | None
    fields: Mapping[str, Any]


def peek(body: str | None) -> tuple[str | None, str | None]:
    """Best-effort (action, requestId) of a body, for echoing in an error frame."""
    try:
        data = loads(body or "")
    except (ValueError, TypeError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    action = data.get("action")
    rid = data.get("requestId")
    return (
        action if isinstance(action, str) and len(action) <= 64 else None,
        rid if isinstance(rid, str) and len(rid) <= MAX_REQUEST_ID_CHARS else None,
    )


def parse_request(body: str | None) -> ClientRequest:
    """Parse a client frame; raise InvalidJson / InvalidRequest / UnknownAction."""
    if body is None or body == "":
        raise InvalidJson("the frame is empty; send a JSON object with an action")
    try:
        data = loads(body)
    except ValueError:
        raise InvalidJson("the frame is not valid JSON") from None
    except RecursionError:
        raise InvalidJson("the frame is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidJson("the frame must be a JSON object")
    rid = data.get("requestId")
    if rid is not None and (not isinstance(rid, str) or len(rid) > MAX_REQUEST_ID_CHARS):
        raise InvalidRequest(f"requestId must be a string of at most {MAX_REQUEST_ID_CHARS} chars")
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise UnknownAction(unknown_action_message(action))
    fields = {k: v for k, v in data.items() if k not in ("action", "requestId")}
    return ClientRequest(action=action, request_id=rid, fields=fields)


def unknown_action_message(action: object) -> str:
    """The error message lists the valid actions so a client developer can self-correct."""
    shown = action if isinstance(action, str) and len(action) <= 64 else None
    prefix = f"unknown action {shown!r}" if shown else "missing or invalid action"
    return f"{prefix}; valid actions: {', '.join(ACTIONS)}"


@overload
def room_id(fields: Mapping[str, Any], *, required: Literal[True] = ...) -> str: ...


@overload
def room_id(fields: Mapping[str, Any], *, required: Literal[False]) -> str | None: ...


def room_id(fields: Mapping[str, Any], *, required: bool = True) -> str | None:
    """Validate the roomId field: 1-128 chars of [A-Za-z0-9_.:-]; None only if optional."""
    value = fields.get("roomId")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not ROOM_ID_RE.fullmatch(value):
        raise InvalidRequest("roomId must be 1-128 characters of A-Z a-z 0-9 _ . : -")
    return value


def int_field(fields: Mapping[str, Any], name: str, lo: int, hi: int) -> int | None:
    """An optional integer field within [lo, hi] (JSON true/false and 1.0 are not integers)."""
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidRequest(f"{name} must be an integer from {lo} to {hi}")
    return value


def cursor_field(fields: Mapping[str, Any]) -> str | None:
    """The optional `cursor` of a user list: a `nextCursor` from an earlier page."""
    value = fields.get("cursor")
    if value is None:
        return None
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise InvalidRequest("cursor must be the nextCursor of an earlier page")
    return value


def bool_field(fields: Mapping[str, Any], name: str) -> bool:
    """An optional boolean field (absent: false)."""
    value = fields.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false")
    return value


def ack(action: str, request_id: str | None, **fields: Any) -> Frame:
    return {"type": "ack", "action": action, "requestId": request_id, **fields}


def error(
    action: str | None,
    request_id: str | None,
    code: ErrorCode,
    message: str,
    *,
    retry_after_ms: int | None = None,
) -> Frame:
    """An error reply; `rate_limited` ones carry `retryAfterMs` (integer ms, >= 1)."""
    frame: Frame = {
        "type": "error",
        "action": action,
        "requestId": request_id,
        "code": str(code),
        "message": message,
    }
    if retry_after_ms is not None:
        frame["retryAfterMs"] = retry_after_ms
    return frame


def iso_now(now: float) -> str:
    """ISO 8601 UTC with milliseconds and a Z suffix."""
    stamp = datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def message_event(
    room: str, message_id: str, user_id: str, data: Any, sent_at: str, *, seq: int | None = None
) -> Frame:
    frame: Frame = {"type": "message", "roomId": room, "messageId": message_id}
    if seq is not None:
        frame["seq"] = seq
    frame["from"] = {"userId": user_id}
    frame["data"] = data
    frame["sentAt"] = sent_at
    return frame


def presence_event(room: str, event: str, user_id: str) -> Frame:
    """One user's transition (v1; rooms at or under the coalescing threshold)."""
    return {"type": "presence", "roomId": room, "event": event, "userId": user_id}


def presence_changes(room: str, joined: list[str], left: list[str], max_bytes: int) -> list[Frame]:
    """Coalesced presence (v1.1, large rooms): who joined and who left since the previous
    frame, split into several frames only when the ids exceed `max_bytes`."""
    frames: list[Frame] = []
    lists: tuple[list[str], list[str]] = ([], [])
    size = 0
    for which, ids in enumerate((joined, left)):
        for user_id in ids:
            cost = len(user_id) + 3  # the quotes and the comma
            if size + cost > max_bytes and (lists[0] or lists[1]):
                frames.append(_changes(room, *lists))
                lists, size = ([], []), 0
            lists[which].append(user_id)
            size += cost
    if lists[0] or lists[1]:
        frames.append(_changes(room, *lists))
    return frames


def _changes(room: str, joined: list[str], left: list[str]) -> Frame:
    return {"type": "presence", "roomId": room, "joined": joined, "left": left}


def publish_event(
    target: Mapping[str, Any], event: str, data: Any, message_id: str, seq: int | None = None
) -> Frame:
    frame: Frame = {"type": "event", "target": dict(target), "event": event}
    frame["messageId"] = message_id
    if seq is not None:
        frame["seq"] = seq
    frame["data"] = data
    return frame
