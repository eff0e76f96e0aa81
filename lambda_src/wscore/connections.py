"""Connection lifecycle: connect, liveness, heartbeat, and cleanup with presence leave.

Cleanup is one code path for $disconnect, 410 pruning and TTL expiry, so all three remove
the connection and every membership, and announce `presence leave` in each room where it
was the user's last connection. Cleanup is idempotent: running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from wscore.errors import StaleConnection, TokenExpired
from wscore.repository import Connection, Membership

if TYPE_CHECKING:
    from collections.abc import Iterable

    from wscore.config import Config
    from wscore.delivery.broadcast import DeliveryReport
    from wscore.delivery.dispatch import Dispatcher
    from wscore.events import Identity
    from wscore.presence import Presence
    from wscore.repository import Repository


class Connections:
    """Lifecycle operations on connection items and their memberships."""

    def __init__(
        self, config: Config, repo: Repository, dispatch: Dispatcher, presence: Presence
    ) -> None:
        self._config = config
        self._repo = repo
        self._dispatch = dispatch
        self._presence = presence

    def expiry(self, now: int, cap_at: int) -> int:
        """A connection's next expiry: the idle lifetime, never past the 2 h cap."""
        return min(now + self._config.connection_ttl_seconds, cap_at)

    def connect(self, connection_id: str, identity: Identity, endpoint: str, now: int) -> bool:
        """Store a new connection (conditional put; a replay returns False)."""
        cap_at = now + self._config.max_connection_seconds
        conn = Connection(
            connection_id=connection_id,
            tenant_id=identity.tenant_id,
            user_id=identity.user_id,
            connected_at=now,
            expires_at=self.expiry(now, cap_at),
            cap_at=cap_at,
            token_exp=identity.token_exp,
            endpoint=endpoint,
            rooms=identity.rooms,
        )
        return self._repo.put_connection(conn)

    def require_live(self, connection_id: str, identity: Identity, now: int) -> Connection:
        """The caller's live connection, extended when half its idle lifetime is used.

        Raises TokenExpired after the token's `exp` (the stored one: refreshToken replaces
        it, while API Gateway keeps passing the connect-time context) and StaleConnection
        when the item is gone or expired; the edge then closes the socket. Any action counts
        as activity, so a client that talks but never heartbeats is not expired.
        """
        conn = self._repo.get_connection(connection_id, now)
        if conn is None:
            raise StaleConnection("the connection is no longer registered; reconnect")
        if (conn.token_exp or identity.token_exp) <= now:
            raise TokenExpired("the token has expired; reconnect with a fresh token")
        if conn.expires_at - now < self._config.connection_ttl_seconds // 2:
            return self.extend(conn, now)
        return conn

    @staticmethod
    def identity_of(conn: Connection, identity: Identity) -> Identity:
        """The identity in force: ids from the authorizer, expiry and rooms as stored."""
        return replace(
            identity,
            token_exp=conn.token_exp or identity.token_exp,
            rooms=identity.rooms if conn.rooms is None else conn.rooms,
        )

    def refresh(self, conn: Connection, fresh: Identity, endpoint: str, now: int) -> None:
        """Adopt a refreshed token: its expiry and rooms claim replace the stored ones.

        Memberships mirror the new expiry; rooms the new claim no longer allows are left
        (with presence `leave`). Raises StaleConnection when the connection is gone.
        """
        if not self._repo.update_token(conn.connection_id, fresh.token_exp, fresh.rooms, now):
            raise StaleConnection("the connection is no longer registered; reconnect")
        memberships = self._repo.memberships_of(conn.connection_id)
        kept = [m for m in memberships if fresh.allows_room(m.room_id)]
        self._repo.set_memberships_token(kept, fresh.token_exp)
        dropped = [m for m in memberships if not fresh.allows_room(m.room_id)]
        if not dropped:
            return
        gone = self.leave_rooms(dropped, endpoint, now)
        self._repo.delete_keys(m.key for m in dropped)
        if gone:
            self.cleanup(gone, endpoint, now)

    def extend(self, conn: Connection, now: int) -> Connection:
        """Push the connection's expiry (and its memberships') forward."""
        expires_at = self.expiry(now, conn.cap_at)
        if not self._repo.touch_connection(conn.connection_id, expires_at, now):
            raise StaleConnection("the connection is no longer registered; reconnect")
        memberships = self._repo.memberships_of(conn.connection_id)
        self._repo.extend_memberships(memberships, expires_at)
        self._repo.extend_presence(memberships, expires_at)
        return replace(conn, expires_at=expires_at)

    def cleanup(self, connection_ids: Iterable[str], endpoint: str, now: int) -> int:
        """Remove connections and their memberships, announcing presence leave.

        Announcements can reveal more gone connections (410); those are cleaned in the same
        loop, each at most once. Returns how many connections were actually removed.
        """
        pending = list(dict.fromkeys(connection_ids))
        seen: set[str] = set()
        removed = 0
        while pending:
            cid = pending.pop()
            if cid in seen:
                continue
            seen.add(cid)
            # Presence and memberships first: if this fails half-way, the connection item
            # survives and its TTL expiry brings the stream cleanup back to finish; a
            # presence already left is not left (nor announced) twice.
            memberships = self._repo.memberships_of(cid)
            gone = self.leave_rooms(memberships, endpoint, now)
            self._repo.delete_keys(m.key for m in memberships)
            conn = self._repo.delete_connection(cid)
            if conn is None and not memberships:
                continue
            removed += 1
            pending.extend(g for g in gone if g not in seen)
        return removed

    def leave_rooms(self, memberships: Iterable[Membership], endpoint: str, now: int) -> list[str]:
        """Take the memberships out of their users' presence (announcing `leave` where a
        user went offline); return the connections found gone meanwhile."""
        gone: list[str] = []
        for m in memberships:
            gone.extend(self._presence.leave(m, endpoint, now).gone)
        return gone

    def deliver(
        self,
        endpoint: str,
        recipients: Iterable[Connection | Membership],
        frame: str,
        kind: str,
        now: int,
        *,
        exclude: str | None = None,
    ) -> DeliveryReport:
        """Deliver to the recipients except `exclude`; close those whose token has expired."""
        targets, expired = split_live(recipients, now, exclude)
        report = self._dispatch.deliver(endpoint, targets, frame, kind, now)
        if expired:
            self.close_all(expired, endpoint, now)
        return report

    def close(self, connection_id: str, endpoint: str, now: int, frame: str | None = None) -> None:
        """Close a socket the server gives up on (with a last frame saying why) and clean up."""
        self._dispatch.close(endpoint, connection_id, frame)
        self.cleanup([connection_id], endpoint, now)

    def close_all(self, connection_ids: list[str], endpoint: str, now: int) -> None:
        """Close sockets whose token expired (no frame: nothing reaches them) and clean up."""
        for cid in connection_ids:
            self._dispatch.close(endpoint, cid)
        self.cleanup(connection_ids, endpoint, now)


def split_live(
    recipients: Iterable[Connection | Membership], now: int, exclude: str | None = None
) -> tuple[list[str], list[str]]:
    """(ids to deliver to, ids whose token has expired): no frame reaches a connection whose
    token has expired; it is closed instead. A `token_exp` of 0 was never recorded."""
    live: list[str] = []
    expired: list[str] = []
    for recipient in recipients:
        if recipient.connection_id != exclude:
            token_dead = 0 < recipient.token_exp <= now
            (expired if token_dead else live).append(recipient.connection_id)
    return live, expired
