"""Presence: who is online in a room, announced once per real change, at bounded cost.

A user's presence in a room is one item holding the set of the user's connections in it.
Joining or leaving changes that set in one atomic update whose answer says whether the
user came online (the set was empty) or went offline (it held only this connection), so
the announcement follows from the transition itself and two connections of one user that
join or leave at the same instant produce exactly one `join` or `leave`.

Small rooms (at most `presence_coalesce_threshold` users) announce each transition at once
with the v1 frame. In larger rooms a transition only records a pending change and, if no
flush is scheduled, schedules one: a delayed job on the fan-out queue. The flush tells the
members, in one `presence` frame, who joined and who left since the previous flush (the
net change: a user who joined and left in between is in neither list), so a room receives
at most one presence frame per interval however many users come and go.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wscore.connections import split_live
from wscore.errors import InvalidRequest
from wscore.protocol import ID_RE, ROOM_ID_RE, encode, presence_changes, presence_event

if TYPE_CHECKING:
    from collections.abc import Iterable

    from wscore.config import Config
    from wscore.delivery.dispatch import Dispatcher
    from wscore.delivery.fanout import FanoutQueue
    from wscore.repository import Membership, Repository

# Pending changes nobody flushed (the queue was down) are deleted by TTL after a day.
PENDING_TTL_S = 86400
# A scheduled flush whose job never ran (SQS refused it, say) is claimed again after this.
STALE_FLUSH_S = 60
# A coalesced frame lists at most this many bytes of user ids; more make several frames.
MAX_CHANGES_BYTES = 64 * 1024

_JOB_TYPE = "presenceFlush"
_JOB_PREFIX = '{"v":1,"type":"' + _JOB_TYPE + '"'


@dataclass(frozen=True, slots=True)
class FlushJob:
    """The delayed fan-out queue message that flushes a room's coalesced presence."""

    endpoint: str
    tenant_id: str
    room_id: str

    def to_body(self) -> str:
        return json.dumps(
            {
                "v": 1,
                "type": _JOB_TYPE,
                "endpoint": self.endpoint,
                "tenantId": self.tenant_id,
                "roomId": self.room_id,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def matches(body: str) -> bool:
        """Whether a fan-out queue body is a flush job (we write its prefix ourselves)."""
        return body.startswith(_JOB_PREFIX)

    @classmethod
    def from_body(cls, body: str) -> FlushJob:
        try:
            data: Any = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidRequest("presence flush job is not JSON") from None
        if not isinstance(data, dict) or data.get("type") != _JOB_TYPE:
            raise InvalidRequest("not a presence flush job")
        endpoint, tenant, room = data.get("endpoint"), data.get("tenantId"), data.get("roomId")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise InvalidRequest("presence flush job has no valid endpoint")
        if not isinstance(tenant, str) or not ID_RE.fullmatch(tenant):
            raise InvalidRequest("presence flush job has no valid tenantId")
        if not isinstance(room, str) or not ROOM_ID_RE.fullmatch(room):
            raise InvalidRequest("presence flush job has no valid roomId")
        return cls(endpoint, tenant, room)


@dataclass(slots=True)
class Transition:
    """What a join or leave did to the user's presence in the room."""

    changed: bool  # the user came online (join) or went offline (leave)
    members: int | None  # users online in the room afterwards (None: unchanged, unread)
    gone: list[str] = field(default_factory=list)  # connections found gone while announcing


@dataclass(frozen=True, slots=True)
class FlushReport:
    joined: list[str]
    left: list[str]
    frames: int


class Presence:
    """Presence transitions, their announcement, and the coalesced flush."""

    def __init__(
        self, config: Config, repo: Repository, dispatch: Dispatcher, queue: FanoutQueue | None
    ) -> None:
        self._config = config
        self._repo = repo
        self._dispatch = dispatch
        self._queue = queue

    def coalesced(self, members: int) -> bool:
        """Whether a room of `members` users gets coalesced presence (needs the queue)."""
        return self._queue is not None and members > self._config.presence_coalesce_threshold

    def join(self, membership: Membership, members: int, endpoint: str, now: int) -> Transition:
        """Add the membership to its user's presence; announce if the user came online.

        `members` is the room's count before the join (read with the room's state).
        """
        m = membership
        coalesced = self.coalesced(members + 1)
        if not self._repo.add_presence(m, mark_shown=not coalesced):
            return Transition(changed=False, members=members)
        count = self._repo.count_members(m.tenant_id, m.room_id, 1)
        if coalesced:
            self._pend(m.tenant_id, m.room_id, m.user_id, endpoint, now)
            return Transition(changed=True, members=count)
        gone = self._announce(m, "join", endpoint, now)
        return Transition(changed=True, members=count, gone=gone)

    def leave(self, membership: Membership, endpoint: str, now: int) -> Transition:
        """Remove the membership from its user's presence; announce if the user went offline."""
        m = membership
        if not self._repo.remove_presence(m):
            return Transition(changed=False, members=None)
        count = self._repo.count_members(m.tenant_id, m.room_id, -1)
        if self.coalesced(count + 1):
            self._pend(m.tenant_id, m.room_id, m.user_id, endpoint, now)
            return Transition(changed=True, members=count)
        gone = self._announce(m, "leave", endpoint, now)
        self._repo.drop_presence(m.tenant_id, m.room_id, m.user_id)
        return Transition(changed=True, members=count, gone=gone)

    def _announce(self, m: Membership, event: str, endpoint: str, now: int) -> list[str]:
        """The v1 frame to the room's other connections; returns the ones found gone."""
        frame = encode(presence_event(m.room_id, event, m.user_id))
        members = self._repo.room_members(m.tenant_id, m.room_id, now)
        return self._send(endpoint, members, frame, now, exclude=m.connection_id)

    def _send(
        self,
        endpoint: str,
        members: Iterable[Membership],
        frame: str,
        now: int,
        exclude: str | None = None,
    ) -> list[str]:
        """Deliver to live members; close those whose token expired. Returns both the gone
        and the closed ids: the caller cleans them up (one loop bounds the work)."""
        targets, expired = split_live(members, now, exclude)
        report = self._dispatch.deliver(endpoint, targets, frame, "presence", now, prune=False)
        for cid in expired:
            self._dispatch.close(endpoint, cid)
        return [*report.gone, *expired]

    def _pend(self, tenant_id: str, room_id: str, user_id: str, endpoint: str, now: int) -> None:
        """Record the change for the next flush, scheduling the flush if none is."""
        token = uuid.uuid4().hex[:16]
        self._repo.add_pending(tenant_id, room_id, user_id, token, ttl=now + PENDING_TTL_S)
        interval = self._config.presence_interval_seconds
        if self._queue is not None and self._repo.schedule_flush(
            tenant_id, room_id, due=now + interval, stale_before=now - STALE_FLUSH_S
        ):
            self._queue.send([FlushJob(endpoint, tenant_id, room_id).to_body()], interval)

    def flush(self, body: str, now: int) -> FlushReport:
        """Run a flush job: tell the room's members the net changes since the last flush.

        The claim is released first (a change from now on schedules the next flush); the
        frames go out before what they announce is recorded and the pending changes are
        deleted, so a flush that fails half-way is retried by SQS and repeats itself
        (members may hear a change twice, never miss one).
        """
        job = FlushJob.from_body(body)
        tenant, room = job.tenant_id, job.room_id
        self._repo.start_flush(tenant, room)
        pending = self._repo.pending_changes(tenant, room)
        users = list(dict.fromkeys(user for user, _ in pending))
        states = self._repo.presence_states(tenant, room, users)
        joined = [u for u in users if u in states and states[u].online and not states[u].shown]
        left = [u for u in users if u in states and not states[u].online and states[u].shown]
        frames = [encode(f) for f in presence_changes(room, joined, left, MAX_CHANGES_BYTES)]
        if frames:
            members = list(self._repo.room_members(tenant, room, now))
            gone: list[str] = []
            for frame in frames:
                gone.extend(self._send(job.endpoint, members, frame, now))
                members = [m for m in members if m.connection_id not in gone]
            if gone and self._dispatch.on_gone is not None:
                self._dispatch.on_gone(gone, job.endpoint, now)
        for user in users:
            state = states.get(user)
            if state is None:
                continue
            if state.online:
                self._repo.mark_shown(tenant, room, user, True)
            elif not self._repo.drop_presence(tenant, room, user):
                self._repo.mark_shown(tenant, room, user, False)  # came back meanwhile
        self._repo.delete_keys(key for _, key in pending)
        return FlushReport(joined, left, len(frames))
