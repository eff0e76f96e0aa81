"""History pages against an in-memory store, for every shape of gaps and expiry (hypothesis).

What a page must prove to a client (docs/PROTOCOL.md): every seq below the last returned
one that it does not contain was skipped for good; `earliestSeq` is the oldest retained
seq; nothing retained after `afterSeq` is ever jumped over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from wscore.config import Config
from wscore.history import History
from wscore.repository import HistoryEntry, RoomSequence

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW = 1_800_000_000
OLD_MS = (NOW - 3600) * 1000  # allocated an hour ago: every gap is settled


@dataclass
class MemoryRepo:
    """The repository calls History makes, over a dict of entries."""

    entries: dict[int, HistoryEntry] = field(default_factory=dict)
    latest: int = 0
    hint: int = 1
    reads: int = 0

    def room_sequence(self, tenant_id: str, room_id: str) -> RoomSequence:
        return RoomSequence(self.latest, OLD_MS, self.hint)

    def raise_earliest_hint(self, tenant_id: str, room_id: str, seq: int) -> None:
        self.hint = max(self.hint, seq)

    def put_history(self, entry: HistoryEntry) -> bool:
        if entry.seq in self.entries:
            return False
        self.entries[entry.seq] = entry
        return True

    def first_history_at_or_after(
        self, tenant_id: str, room_id: str, seq: int
    ) -> HistoryEntry | None:
        self.reads += 1
        later = [s for s in self.entries if s >= seq]
        return self.entries[min(later)] if later else None

    def history(
        self, tenant_id: str, room_id: str, *, from_seq: int, forward: bool, page_size: int
    ) -> Iterator[HistoryEntry]:
        keys = sorted(self.entries, reverse=not forward)
        yield from (self.entries[s] for s in keys if (s >= from_seq if forward else s <= from_seq))


@st.composite
def rooms(draw: st.DrawFn) -> tuple[MemoryRepo, set[int], set[int]]:
    """A room: seqs 1..n, a prefix expired, some seqs never stored (writer died)."""
    n = draw(st.integers(0, 40))
    expired_upto = draw(st.integers(0, n))
    missing = draw(st.sets(st.integers(1, max(n, 1)), max_size=6)) if n else set()
    repo = MemoryRepo(latest=n, hint=draw(st.integers(1, expired_upto + 1)))
    for seq in range(1, n + 1):
        if seq in missing:
            continue
        expires = NOW - 1 if seq <= expired_upto else NOW + 3600
        frame = json.dumps({"type": "message", "seq": seq})
        repo.entries[seq] = HistoryEntry("t", "r", seq, frame, OLD_MS, expires)
    retained = {s for s in repo.entries if s > expired_upto}
    return repo, retained, missing


def _history(repo: MemoryRepo) -> History:
    return History(Config(table_name="t"), repo)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(room=rooms(), after=st.integers(0, 45), limit=st.integers(1, 10))
def test_pages_deliver_every_retained_seq_once_in_order(
    room: tuple[MemoryRepo, set[int], set[int]], after: int, limit: int
) -> None:
    repo, retained, _ = room
    history = _history(repo)
    delivered: list[int] = []
    cursor, earliest = after, None
    for _ in range(100):
        page = history.page("t", "r", cursor, limit, NOW)
        earliest = page.earliest_seq
        seqs = [m["seq"] for m in page.messages]
        assert seqs == sorted(seqs) and all(s > cursor for s in seqs)
        assert len(seqs) <= limit
        delivered += seqs
        if seqs:
            cursor = seqs[-1]
        if not page.has_more:
            break
    assert earliest == min(retained, default=repo.latest + 1)
    assert delivered == sorted(s for s in retained if s > after)


@settings(max_examples=200, deadline=None)
@given(room=rooms())
def test_earliest_seq_is_found_in_few_reads(room: tuple[MemoryRepo, set[int], set[int]]) -> None:
    repo, retained, _ = room
    page = _history(repo).page("t", "r", 0, 1, NOW)
    assert page.earliest_seq == min(retained, default=repo.latest + 1)
    assert repo.reads <= 2 + 4 * max(repo.latest, 1).bit_length()  # gallop + bisect


def test_a_young_gap_stops_the_page() -> None:
    repo = MemoryRepo(latest=3)
    young_ms = NOW * 1000 - 100  # allocated 100 ms ago: its writer may still store it
    for seq in (1, 3):
        repo.entries[seq] = HistoryEntry(
            "t", "r", seq, json.dumps({"seq": seq}), young_ms, NOW + 60
        )
    page = _history(repo).page("t", "r", 0, 10, NOW)
    assert [m["seq"] for m in page.messages] == [1] and page.has_more
    assert 2 not in repo.entries  # nothing written: the writer still can
