"""Rooms: join, leave, send and presence, all namespaced by the caller's tenant."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from wscore.errors import Forbidden, NotMember, PayloadTooLarge
from wscore.history import MAX_PERSISTED_BYTES, SEQ_FIELD_BYTES
from wscore.protocol import MAX_MESSAGE_BYTES, encode, iso_now, message_event, presence_event
from wscore.repository import Membership

if TYPE_CHECKING:
    from collections.abc import Iterable

    from wscore.config import Config
    from wscore.connections import Connections
    from wscore.delivery.dispatch import Dispatcher
    from wscore.events import Identity
    from wscore.history import History, Page
    from wscore.repository import Connection, Repository

# joinRoom/getPresence list at most this many users, so the ack stays far below 128 KB.
MAX_LISTED_USERS = 500


def unique_users(user_ids: Iterable[str], limit: int = MAX_LISTED_USERS) -> tuple[list[str], bool]:
    """Deduplicate user ids in first-seen order; report whether the list was truncated."""
    seen: dict[str, None] = {}
    for uid in user_ids:
        if uid in seen:
            continue
        if len(seen) == limit:
            return list(seen), True
        seen[uid] = None
    return list(seen), False


class Rooms:
    """Room operations on behalf of a live connection."""

    def __init__(
        self,
        config: Config,
        repo: Repository,
        connections: Connections,
        dispatch: Dispatcher,
        history: History,
    ) -> None:
        self._config = config
        self._repo = repo
        self._connections = connections
        self._dispatch = dispatch
        self.history = history

    def _check_room(self, identity: Identity, room_id: str) -> None:
        if not identity.allows_room(room_id):
            raise Forbidden(f"your token does not allow room {room_id!r}")

    def join(
        self, conn: Connection, identity: Identity, room_id: str, endpoint: str, now: int
    ) -> tuple[list[str], bool, int]:
        """Add the connection to the room; announce `join` if it is the user's first.

        Returns the users online, whether that list was truncated, and the room's latest
        seq (a client resumes after it).
        """
        self._check_room(identity, room_id)
        tenant, user, cid = identity.tenant_id, identity.user_id, conn.connection_id
        previous = self._repo.put_membership(
            Membership(
                tenant,
                room_id,
                cid,
                user,
                joined_at=now,
                expires_at=conn.expires_at,
                token_exp=identity.token_exp,
            )
        )
        already = previous is not None and previous.expires_at > now
        # The room is read anyway for the ack, so it also tells whether the user was already
        # present through another connection (memberships mirror their connection's expiry).
        members = list(self._repo.room_members(tenant, room_id, now))
        others = any(m.user_id == user and m.connection_id != cid for m in members)
        if not already and not others:
            frame = encode(presence_event(room_id, "join", user))
            self._connections.deliver(endpoint, members, frame, "presence", now, exclude=cid)
        users, truncated = unique_users(m.user_id for m in members)
        return users, truncated, self.history.latest_seq(tenant, room_id)

    def leave(
        self, conn: Connection, identity: Identity, room_id: str, endpoint: str, now: int
    ) -> None:
        """Remove only the caller's membership; announce `leave` if it was the user's last."""
        self._check_room(identity, room_id)
        removed = self._repo.delete_membership(identity.tenant_id, room_id, conn.connection_id)
        if removed is None or removed.expires_at <= now:
            raise NotMember(f"you are not in room {room_id!r}")
        gone = self._connections.announce_leaves(
            [removed], endpoint, now, exclude=conn.connection_id
        )
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

    def presence(self, identity: Identity, room_id: str | None, now: int) -> tuple[list[str], bool]:
        """Online users of a room, or of the whole tenant, deduplicated."""
        if room_id is None:
            conns = self._repo.tenant_connections(identity.tenant_id, now)
            return unique_users(c.user_id for c in conns)
        self._check_room(identity, room_id)
        members = self._repo.room_members(identity.tenant_id, room_id, now)
        return unique_users(m.user_id for m in members)

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
