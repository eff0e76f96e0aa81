"""Presence (protocol v1.1): the two forms of a ``presence`` frame, and pages of users online.

A room up to the server's coalescing threshold (default 100 users) gets the v1 transition
``{"type": "presence", "roomId", "event": "join" | "leave", "userId"}``, once per real change
of a user. A larger room gets at most one frame per interval (default 2 s) with the net change
since the room's previous such frame: ``{"type": "presence", "roomId", "joined": [userId...],
"left": [userId...]}`` (a user who joined and left within the interval is in neither list; a
large change may come as several frames). ``presence_changes`` reads either form as set
changes, so an application's member set needs one code path.

``joinRoom`` acks list the first page of ``members`` and ``getPresence`` acks one page of
``users``, in user id order, with ``memberCount`` (a room's users online) and ``nextCursor``
while more follow: ``WsClient.presence_pages`` and ``presence_all`` follow it. The same rules
as the JavaScript client (clients/js/wsclient.js).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class PresenceChanges:
    """What a ``presence`` frame changes: add ``joined`` to the room's set, remove ``left``."""

    room_id: str
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


@dataclass(slots=True)
class PresenceList:
    """Every page's users (``presence_all``), in user id order, and a room's ``memberCount``
    from the last page (None for the whole tenant, or from a v1 server)."""

    user_ids: list[str] = field(default_factory=list)
    member_count: int | None = None


def user_ids(value: object) -> tuple[str, ...]:
    """The strings of a list (anything else in it, or a value that is no list, is skipped)."""
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def presence_changes(frame: Mapping[str, Any]) -> PresenceChanges:
    """A ``presence`` frame of either form (a v1 transition, a large room's coalesced change)
    as the set changes it announces."""
    room_id = str(frame.get("roomId", ""))
    if frame.get("event") == "join":
        return PresenceChanges(room_id, joined=user_ids([frame.get("userId")]))
    if frame.get("event") == "leave":
        return PresenceChanges(room_id, left=user_ids([frame.get("userId")]))
    return PresenceChanges(room_id, user_ids(frame.get("joined")), user_ids(frame.get("left")))


def page_user_ids(page: Mapping[str, Any], key: str = "users") -> tuple[str, ...]:
    """The user ids of a page: ``users`` of a getPresence ack, ``members`` of a joinRoom ack."""
    entries = page.get(key)
    listed = entries if isinstance(entries, list) else []
    return user_ids([entry.get("userId") for entry in listed if isinstance(entry, dict)])


def next_cursor(page: Mapping[str, Any]) -> str | None:
    """The page's ``nextCursor`` when more users follow; None on the last page (or from v1,
    whose ``truncated`` alone gave no way to the rest)."""
    cursor = page.get("nextCursor")
    return cursor if isinstance(cursor, str) and cursor else None


def member_count(page: Mapping[str, Any]) -> int | None:
    count = page.get("memberCount")
    return count if isinstance(count, int) and not isinstance(count, bool) else None
