"""Rooms: join, leave, send and presence, all namespaced by the caller's tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.errors import Forbidden, NotMember, PayloadTooLarge
from wscore.history import MAX_PERSISTED_BYTES, SEQ_FIELD_BYTES
from wscore.protocol import MAX_MESSAGE_BYTES, encode, int_field, iso_now, message_event
from wscore.repository import Membership

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wscore.config import Config
    from wscore.connections import Connections
    from wscore.events import Identity
    from wscore.history import History, Page
    from wscore.presence import Presence
    from wscore.repository import Connection, Repository

# joinRoom and getPresence list users a page at a time (`limit`, default 100, at most 500),
# so an ack stays far below 128 KB whatever the room's size; `nextCursor` asks for more.
DEFAULT_PAGE = 100
MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class UserPage:
    """A page of online users; `count` is the room's member count (None for a tenant)."""

    users: list[str]
    next_cursor: str | None
    count: int | None


def page_limit(fields: Mapping[str, Any]) -> int:
    """The optional `limit` of a user list (1 to 500, default 100)."""
    limit = int_field(fields, "limit", 1, MAX_PAGE)
    return DEFAULT_PAGE if limit is None else limit


def user_page_fields(page: UserPage, name: str) -> dict[str, Any]:
    """A page of users as ack fields: the list under `name`, `memberCount` for a room,
    `nextCursor` (and the v1 `truncated`) when more users follow."""
    out: dict[str, Any] = {name: [{"userId": u} for u in page.users]}
    if page.count is not None:
        out["memberCount"] = page.count
    if page.next_cursor is not None:
        out["nextCursor"] = page.next_cursor
        out["truncated"] = True
    return out


class Rooms:
    """Room operations on behalf of a live connection."""

    def __init__(
        self,
        config: Config,
        repo: Repository,
        connections: Connections,
        presence: Presence,
        history: History,
    ) -> None:
        self._config = config
        self._repo = repo
        self._connections = connections
        self._presence = presence
        self.history = history

    def _check_room(self, identity: Identity, room_id: str) -> None:
        if not identity.allows_room(room_id):
            raise Forbidden(f"your token does not allow room {room_id!r}")

    def join(
        self,
        conn: Connection,
        identity: Identity,
        room_id: str,
        endpoint: str,
        now: int,
        *,
        limit: int = DEFAULT_PAGE,
    ) -> tuple[UserPage, int]:
        """Add the connection to the room; announce `join` if the user came online.

        Returns the first page of users online with the member count, and the room's
        latest seq (a client resumes after it).
        """
        self._check_room(identity, room_id)
        tenant = identity.tenant_id
        state = self._repo.room_state(tenant, room_id)
        membership = Membership(
            tenant,
            room_id,
            conn.connection_id,
            identity.user_id,
            joined_at=now,
            expires_at=conn.expires_at,
            token_exp=identity.token_exp,
        )
        self._repo.put_membership(membership)
        transition = self._presence.join(membership, state.members, endpoint, now)
        count = state.members if transition.members is None else transition.members
        if transition.gone:  # the announcement found gone members: count after their cleanup
            self._connections.cleanup(transition.gone, endpoint, now)
            count = self._repo.room_state(tenant, room_id).members
        users, more = self._repo.online_users(tenant, room_id, None, limit, now)
        latest = state.latest_seq if self.history.enabled else 0
        return UserPage(users, users[-1] if more else None, count), latest

    def leave(
        self, conn: Connection, identity: Identity, room_id: str, endpoint: str, now: int
    ) -> None:
        """Remove only the caller's membership; announce `leave` if the user went offline."""
        self._check_room(identity, room_id)
        removed = self._repo.delete_membership(identity.tenant_id, room_id, conn.connection_id)
        if removed is None or removed.expires_at <= now:
            raise NotMember(f"you are not in room {room_id!r}")
        gone = self._presence.leave(removed, endpoint, now).gone
        if gone:
            self._connections.cleanup(gone, endpoint, now)

    def send(
        self,
        conn: Connection,
        identity: Identity,
        room_id: str,
        *,
        data: Any,
        ephemeral: bool,
        endpoint: str,
        now: float,
    ) -> tuple[str, int | None]:
        """Broadcast a message to the room's other connections; (messageId, seq).

        A persisted message is numbered and stored before anyone receives it, so a client
        that sees its seq can always find it in history; an ephemeral one has no seq.
        """
        self._check_room(identity, room_id)
        tenant, cid = identity.tenant_id, conn.connection_id
        if self._repo.get_membership(tenant, room_id, cid, int(now)) is None:
            raise NotMember(f"join room {room_id!r} before sending to it")
        message_id = uuid.uuid4().hex
        sent_at = iso_now(now)

        def frame_for(seq: int | None) -> str:
            return encode(
                message_event(room_id, message_id, identity.user_id, data, sent_at, seq=seq)
            )

        persisted = self.history.enabled and not ephemeral
        check_size(frame_for(None), persisted, "message")
        members = list(self._repo.room_members(tenant, room_id, int(now)))
        seq: int | None = None
        if persisted:
            seq, frame = self.history.append(tenant, room_id, frame_for, now)
        else:
            frame = frame_for(None)
        self._connections.deliver(endpoint, members, frame, "message", int(now), exclude=cid)
        return message_id, seq

    def presence(
        self,
        identity: Identity,
        room_id: str | None,
        now: int,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> UserPage:
        """A page of a room's online users with its member count; or, without a room, a
        page of the whole tenant's online users (not counted)."""
        if room_id is None:
            users, more = self._repo.tenant_users(identity.tenant_id, cursor, limit, now)
            return UserPage(users, users[-1] if more else None, None)
        self._check_room(identity, room_id)
        count = self._repo.room_state(identity.tenant_id, room_id).members
        users, more = self._repo.online_users(identity.tenant_id, room_id, cursor, limit, now)
        return UserPage(users, users[-1] if more else None, count)

    def history_page(
        self, identity: Identity, room_id: str, after_seq: int | None, limit: int, now: float
    ) -> Page:
        """A page of the room's history: the token must allow the room; membership is not
        needed (a client fetches what it missed before or while rejoining)."""
        self._check_room(identity, room_id)
        return self.history.page(identity.tenant_id, room_id, after_seq, limit, now)


def check_size(frame: str, persisted: bool, what: str) -> None:
    """Refuse a frame that could not be delivered (or, persisted, could not fit a page)."""
    limit = MAX_PERSISTED_BYTES - SEQ_FIELD_BYTES if persisted else MAX_MESSAGE_BYTES
    if len(frame.encode()) > limit:
        raise PayloadTooLarge(f"the {what} exceeds {limit // 1024} KB once framed")
