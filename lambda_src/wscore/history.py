"""Room history: sequence numbers, stored frames, and pages that never report a false loss.

Design (docs/ARCHITECTURE.md, "Delivery continuity"):
- a persisted message takes the room's next seq from one atomic counter (UpdateItem ADD,
  no read first), then is stored at that seq with a conditional put: one write each;
- a writer can die between the two writes, leaving a seq allocated but never stored. A
  reader that meets such a gap after it is old enough (`SETTLE_MS`) writes a tombstone at
  that seq, conditionally: if it wins, the late writer's put fails and its sender gets an
  error (never an ack), so the seq is skipped for good; if it loses, the message is there
  and the reader reads it. No timing assumption decides correctness, only who wrote first;
- a page stops before a gap that is not settled yet (`hasMore`), so a client never moves
  past a seq that could still be delivered;
- retention is DynamoDB TTL on every entry; reads ignore expired entries (TTL deletes
  lazily), and where retained history starts is found by a galloping search from a hint
  kept on the counter item, so expired entries that TTL has not deleted yet are not read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wscore.errors import DomainError, ErrorCode
from wscore.protocol import MAX_MESSAGE_BYTES
from wscore.repository import HistoryEntry

if TYPE_CHECKING:
    from collections.abc import Callable

    from wscore.config import Config
    from wscore.repository import Repository, RoomSequence

# A seq allocated this long ago and still not stored is declared skipped by a reader. It
# only has to exceed a writer's time between its two writes (retries included).
SETTLE_MS = 5_000
# A persisted frame must fit in a history page with the ack around it.
MAX_PERSISTED_BYTES = MAX_MESSAGE_BYTES - 1024
PAGE_BYTES = MAX_MESSAGE_BYTES - 4096
# Room for `"seq":<12 digits>,` which the frame gains once its seq is known.
SEQ_FIELD_BYTES = 24
MAX_PAGE_LIMIT = 100


class SeqSkipped(DomainError):
    """A reader declared this message's seq skipped before it was stored: not sent."""

    code = ErrorCode.INTERNAL_ERROR


@dataclass(slots=True)
class Page:
    """One getHistory page (see docs/PROTOCOL.md for what it proves to a client)."""

    latest_seq: int
    earliest_seq: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    has_more: bool = False


class History:
    """Sequencing and storage of a tenant's room messages."""

    def __init__(self, config: Config, repo: Repository) -> None:
        self._retention = config.history_retention_seconds
        self._repo = repo

    @property
    def enabled(self) -> bool:
        return self._retention > 0

    def latest_seq(self, tenant_id: str, room_id: str) -> int:
        """The room's latest seq (0 without history)."""
        if not self.enabled:
            return 0
        return self._repo.room_sequence(tenant_id, room_id).latest

    def append(
        self, tenant_id: str, room_id: str, frame_for: Callable[[int], str], now: float
    ) -> tuple[int, str]:
        """Allocate the next seq, build the frame with it and store it; (seq, frame).

        Raises SeqSkipped when a reader already declared the seq skipped (the frame must
        then not be delivered: clients have moved past it).
        """
        now_ms = int(now * 1000)
        seq = self._repo.allocate_seq(tenant_id, room_id, now_ms)
        frame = frame_for(seq)
        entry = HistoryEntry(tenant_id, room_id, seq, frame, now_ms, int(now) + self._retention)
        if not self._repo.put_history(entry):
            raise SeqSkipped("the message could not be stored in time; send it again")
        return seq, frame

    def page(
        self, tenant_id: str, room_id: str, after_seq: int | None, limit: int, now: float
    ) -> Page:
        """The frames after `after_seq` (or the latest ones), cut by count and bytes."""
        if not self.enabled:
            return Page(latest_seq=0, earliest_seq=1)
        state = self._repo.room_sequence(tenant_id, room_id)
        earliest = self._earliest(tenant_id, room_id, state, int(now))
        page = Page(latest_seq=state.latest, earliest_seq=earliest)
        if after_seq is None:
            self._fill_latest(page, tenant_id, room_id, limit, now)
        else:
            start = max(after_seq + 1, earliest)
            self._fill_after(
                page, state, start=start, limit=limit, now=now, tenant_id=tenant_id, room_id=room_id
            )
        return page

    # -- pages ---------------------------------------------------------------------------

    def _fill_latest(
        self, page: Page, tenant_id: str, room_id: str, limit: int, now: float
    ) -> None:
        """The latest stored frames, newest first from the store, returned ascending."""
        if page.latest_seq == 0:
            return
        frames: list[str] = []
        size = 0
        for entry in self._repo.history(
            tenant_id, room_id, from_seq=page.latest_seq, forward=False, page_size=limit + 1
        ):
            if entry.expires_at <= now:
                break  # everything older has expired too
            if entry.frame is None:
                continue
            if len(frames) == limit or size + len(entry.frame.encode()) > PAGE_BYTES:
                break
            frames.append(entry.frame)
            size += len(entry.frame.encode()) + 1
        page.messages = [json.loads(frame) for frame in reversed(frames)]

    def _fill_after(
        self,
        page: Page,
        state: RoomSequence,
        *,
        start: int,
        limit: int,
        now: float,
        tenant_id: str,
        room_id: str,
    ) -> None:
        """Frames from `start` on, in seq order, stopping before a gap that is not settled."""
        if start > state.latest:
            return
        now_ms = int(now * 1000)
        frames: list[str] = []
        size = 0
        expected = start
        for entry in self._repo.history(
            tenant_id, room_id, from_seq=start, forward=True, page_size=limit + 1
        ):
            if entry.seq > state.latest or entry.expires_at <= now:
                page.has_more = True  # newer than this page's latestSeq, or expiring now
                break
            if expected < entry.seq and not self._settle(
                tenant_id,
                room_id,
                first=expected,
                end=entry.seq,
                later_ms=entry.allocated_ms,
                now_ms=now_ms,
            ):
                page.has_more = True
                break
            if entry.frame is not None:
                if len(frames) == limit or size + len(entry.frame.encode()) > PAGE_BYTES:
                    page.has_more = True
                    break
                frames.append(entry.frame)
                size += len(entry.frame.encode()) + 1
            expected = entry.seq + 1
        else:
            if expected <= state.latest and not self._settle(
                tenant_id,
                room_id,
                first=expected,
                end=state.latest + 1,
                later_ms=state.allocated_ms,
                now_ms=now_ms,
            ):
                page.has_more = True
        page.messages = [json.loads(frame) for frame in frames]

    def _settle(
        self, tenant_id: str, room_id: str, *, first: int, end: int, later_ms: int, now_ms: int
    ) -> bool:
        """Declare the missing seqs [first, end) skipped, if they are old enough.

        `later_ms` is when a later seq was allocated: the missing ones were allocated
        before it. False when they are too young, or when one of them was just stored.
        """
        if now_ms - later_ms < SETTLE_MS:
            return False
        expires_at = now_ms // 1000 + self._retention
        for seq in range(first, end):
            tombstone = HistoryEntry(tenant_id, room_id, seq, None, later_ms, expires_at)
            if not self._repo.put_history(tombstone):
                return False
        return True

    def _earliest(self, tenant_id: str, room_id: str, state: RoomSequence, now: int) -> int:
        """The oldest retained seq (`latest + 1` when none is), from the counter's hint.

        Expired entries form a prefix of the history (an entry expires a fixed time after
        its seq was allocated), so the first retained one is found by galloping then
        bisecting over "the first stored entry at or after x", one single-item read each.
        """
        if state.latest == 0:
            return 1
        first = self._repo.first_history_at_or_after(tenant_id, room_id, state.earliest_hint)
        if first is None:
            return state.latest + 1
        if first.expires_at > now:
            return first.seq
        expired, step = first.seq, 1
        while True:
            probe = self._repo.first_history_at_or_after(tenant_id, room_id, expired + step)
            if probe is not None and probe.expires_at > now:
                earliest = self._bisect(tenant_id, room_id, expired + 1, probe.seq, now)
                break
            if probe is None:  # overshot: what is left lies just after the last expired
                probe = self._repo.first_history_at_or_after(tenant_id, room_id, expired + 1)
                if probe is None or probe.expires_at > now:
                    earliest = state.latest + 1 if probe is None else probe.seq
                    break
                step = 1
            else:
                step *= 2
            expired = probe.seq
        self._repo.raise_earliest_hint(tenant_id, room_id, earliest)
        return earliest

    def _bisect(self, tenant_id: str, room_id: str, lo: int, hi: int, now: int) -> int:
        """The seq of the first retained entry, knowing entries below `lo` have expired and
        the entry at `hi` is retained. "The first entry at or after x is retained" is false
        up to the last expired seq and true after it, so x is bisected on it."""
        best = hi
        while lo < hi:
            mid = (lo + hi) // 2
            probe = self._repo.first_history_at_or_after(tenant_id, room_id, mid)
            if probe is not None and probe.expires_at > now:
                hi, best = mid, probe.seq
            else:
                lo = mid + 1 if probe is None else probe.seq + 1
        return best
