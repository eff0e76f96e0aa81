"""Delivery continuity (protocol v1.1): room frames reach the application in seq order, once.

The server numbers every persisted room message (``seq``) and keeps it in history, but a
frame can still arrive late, twice, or not at all while the socket was down. This module
turns that into the promise of docs/PROTOCOL.md ("Delivery continuity"): each room's frames
are delivered strictly in ``seq`` order with no duplicates, gaps are filled from
``getHistory``, and what history can no longer give is reported as a ``discontinuity``.

It knows nothing about sockets: the client hands it frames and acks, and gives it a way to
fetch a history page, to deliver a frame and to sleep. The same rules as the JavaScript
client (clients/js/wsclient.js), so both behave alike.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger("wsclient")

Frame = dict[str, Any]

DEFAULT_GAP_WAIT_S: Final = 1.0
HISTORY_PAGE_LIMIT: Final = 100  # the protocol's maximum: fewest round trips
# A fill that makes no progress (an empty page with hasMore while a message is being
# written; a timeout, internal_error or rate_limited reply) is retried after 0.25 s,
# doubling up to 4 s, 6 times in a row (11.75 s in all, past the server's 5 s settle time
# for a writer that died); then the gap is reported.
HISTORY_RETRY_FIRST_S: Final = 0.25
HISTORY_RETRY_MAX_S: Final = 4.0
HISTORY_RETRY_ATTEMPTS: Final = 6
RETRYABLE_HISTORY_ERRORS: Final = frozenset({"timeout", "internal_error", "rate_limited"})
SEEN_IDS_MAX: Final = 10_000  # messageIds remembered for de-duplication, oldest forgotten


class HistoryFailed(Exception):
    """A getHistory request failed: ``code`` decides a retry, ``error`` is what to report."""

    def __init__(self, error: Exception, code: str, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.error = error
        self.code = code
        self.retry_after = retry_after


def seq_of(value: Any) -> int | None:
    """A seq (a JSON integer >= 0; true/false and 1.0 are not), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def room_of(frame: Frame) -> str | None:
    """The room whose sequence a ``message`` or room-targeted ``event`` belongs to."""
    if frame.get("type") == "message":
        room = frame.get("roomId")
    else:
        target = frame.get("target")
        room = target.get("roomId") if isinstance(target, dict) else None
    return room if isinstance(room, str) else None


def retry_pause(attempt: int) -> float:
    """Pause before retry ``attempt`` (0-based) of a fill that made no progress."""
    return min(HISTORY_RETRY_MAX_S, HISTORY_RETRY_FIRST_S * 2.0 ** min(attempt, 16))


@dataclass(eq=False)
class _Room:
    """Delivery state of one joined room.

    ``last``: the last seq delivered to the application (None until the first join is
    acked: frames that arrive before it are held, the ack's latestSeq decides which are
    new). ``held``: frames ahead of a gap, by seq; None marks this client's own message,
    acked to it and never delivered back. ``known``: the highest seq known to exist.
    """

    last: int | None = None
    known: int = 0
    held: dict[int, Frame | None] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None
    filler: asyncio.Task[None] | None = None
    refill: bool = False


class Sequencer:
    """Orders, de-duplicates and gap-fills the room frames of one client, across reconnects."""

    def __init__(
        self,
        *,
        deliver: Callable[[Frame], None],
        fetch: Callable[[str, int], Awaitable[Frame]],
        sleep: Callable[[float], Awaitable[None]],
        report_error: Callable[[Exception, str], None],
        gap_wait: float = DEFAULT_GAP_WAIT_S,
    ) -> None:
        self._deliver_out = deliver
        self._fetch = fetch
        self._report_error = report_error
        self._sleep = sleep
        self.gap_wait = gap_wait
        self._rooms: dict[str, _Room] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._online = False

    # ---- what the client reports ------------------------------------------------------------

    def track(self, room_id: str) -> bool:
        """A first join is being sent: hold the room's frames until its ack. True if new."""
        if room_id in self._rooms:
            return False
        self._rooms[room_id] = _Room()
        return True

    def join_failed(self, room_id: str) -> None:
        """The first join failed: hand over what was held (in order) and stop tracking."""
        room = self._rooms.get(room_id)
        if room is None or room.last is not None:
            return
        self.forget(room_id)
        for seq in sorted(room.held):
            frame = room.held[seq]
            if frame is not None:
                self._deliver(frame)

    def joined(self, room_id: str, ack: Frame) -> None:
        """The application's join was acked: numbering starts at the ack's latestSeq.

        Frames up to latestSeq were sent before the join (history, not ours to deliver);
        a second join of a room already tracked changes nothing.
        """
        room = self._rooms.setdefault(room_id, _Room())
        if room.last is not None:
            return
        latest = seq_of(ack.get("latestSeq")) or 0  # absent: a v1 server, no numbering
        room.last = latest
        room.known = max(room.known, latest)
        self._settle(room_id, room)

    def rejoined(self, room_id: str, ack: Frame) -> None:
        """A rejoin after a reconnect was acked: fetch what was missed meanwhile."""
        room = self._rooms.get(room_id)
        if room is None or room.last is None:
            self.joined(room_id, ack)
            return
        latest = seq_of(ack.get("latestSeq")) or 0
        if latest == 0 and room.last > 0:
            # The room lost its numbering (history turned off, or reset): what was sent
            # while away cannot be known, let alone fetched. Say so, then count afresh.
            # (A latestSeq below last but above 0 is no sign of that: frames sent after the
            # join can overtake its ack.)
            self._report(room_id, room.last + 1, None)
            room.last = room.known = 0
            room.held.clear()
        room.known = max(room.known, latest)
        if latest > room.last or room.held:
            self._fill_now(room_id)

    def own(self, room_id: str, seq: int | None, message_id: Any) -> None:
        """This client's message was acked: the server never sends it back to this
        connection, so its seq counts as delivered instead of being waited for as a gap,
        and its messageId as seen, should history return it."""
        self._mark_seen(message_id)
        room = self._rooms.get(room_id)
        if seq is None or room is None or room.last is None or seq <= room.last:
            return
        room.held[seq] = None
        room.known = max(room.known, seq)
        self._settle(room_id, room)

    def forget(self, room_id: str) -> None:
        """The room was left (or a rejoin refused): drop its state and stop its work."""
        room = self._rooms.pop(room_id, None)
        if room is not None:
            self._halt(room)

    def online(self, connected: bool) -> None:
        """No gap wait or fill runs without a connection; the rejoin restarts them."""
        self._online = connected
        if not connected:
            for room in self._rooms.values():
                if room.timer is not None:
                    room.timer.cancel()
                    room.timer = None

    def suspend(self) -> None:
        """The client stopped: halt everything but keep the positions for a later connect()."""
        self._online = False
        for room in self._rooms.values():
            self._halt(room)

    def on_frame(self, frame: Frame) -> None:
        """A live ``message`` or ``event`` frame."""
        seq = seq_of(frame.get("seq"))
        room_id = room_of(frame)
        room = self._rooms.get(room_id) if room_id is not None else None
        if not seq or room is None or room_id is None:  # seqs start at 1
            self._deliver(frame)  # ephemeral, user/tenant event, history off: as it comes
            return
        if room.last is not None and seq <= room.last:
            return  # already delivered (a retry, or also read from history)
        room.known = max(room.known, seq)
        room.held.setdefault(seq, frame)  # a second copy of a held frame is a duplicate
        self._settle(room_id, room)

    # ---- ordering ---------------------------------------------------------------------------

    def _deliver(self, frame: Frame) -> None:
        message_id = frame.get("messageId")
        if isinstance(message_id, str) and message_id in self._seen:
            return
        self._mark_seen(message_id)
        self._deliver_out(frame)

    def _mark_seen(self, message_id: Any) -> None:
        if isinstance(message_id, str):
            self._seen[message_id] = None
            self._seen.move_to_end(message_id)
            if len(self._seen) > SEEN_IDS_MAX:
                self._seen.popitem(last=False)

    def _report(self, room_id: str, from_seq: int, to_seq: int | None) -> None:
        self._deliver_out(
            {"type": "discontinuity", "roomId": room_id, "fromSeq": from_seq, "toSeq": to_seq}
        )

    def _advance(self, room: _Room, proven: int) -> None:
        """Deliver the held frames that are next in order.

        ``proven``: every seq up to it is accounted for by history (delivered, held or
        skipped), so a missing one below it is a skipped seq, passed silently.
        """
        assert room.last is not None
        while room.held:
            lowest = min(room.held)
            if lowest <= room.last:
                del room.held[lowest]
                continue
            if lowest > max(room.last, proven) + 1:
                break  # a gap
            frame = room.held.pop(lowest)
            room.last = lowest
            if frame is not None:
                self._deliver(frame)
        room.last = max(room.last, proven)

    def _settle(self, room_id: str, room: _Room) -> None:
        """After a change: deliver what is in order, and wait for a gap that remains."""
        if room.last is None or room.filler is not None:
            return  # the join ack, or the running fill, settles it
        self._advance(room, room.last)
        if not room.held:
            if room.timer is not None:
                room.timer.cancel()
                room.timer = None
        elif room.timer is None and self._online:
            # The late frames usually arrive within a moment; history is the slow path. The
            # wait counts from when a gap is first seen: late frames that close part of it
            # do not restart it, so the wait stays bounded.
            room.timer = asyncio.get_running_loop().call_later(
                self.gap_wait, self._fill_now, room_id
            )

    # ---- filling from history ---------------------------------------------------------------

    def _fill_now(self, room_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is None or not self._online:
            return
        if room.timer is not None:
            room.timer.cancel()
            room.timer = None
        if room.filler is not None:
            room.refill = True  # a fill of the previous connection may still be unwinding
            return
        room.filler = asyncio.ensure_future(self._fill(room_id, room))
        room.filler.add_done_callback(functools.partial(self._filled, room_id, room))

    def _filled(self, room_id: str, room: _Room, task: asyncio.Task[None]) -> None:
        if room.filler is not task:
            return  # halted, perhaps already replaced by a fill of a new connection
        room.filler = None
        if task.cancelled() or self._rooms.get(room_id) is not room:
            return
        if room.refill:
            room.refill = False
            self._fill_now(room_id)
        else:
            self._settle(room_id, room)

    async def _fill(self, room_id: str, room: _Room) -> None:
        """Fetch history after ``last`` until it is complete or cannot be completed."""
        try:
            await self._page_through(room_id, room)
        except Exception:  # a bug must not leave the room held forever
            log.exception("wsclient: history fill of room %r failed", room_id)
            self._give_up(room_id, room)

    async def _page_through(self, room_id: str, room: _Room) -> None:
        stalled = 0
        while room.last is not None and self._rooms.get(room_id) is room:
            after = room.last
            try:
                page = await self._fetch(room_id, after)
            except HistoryFailed as exc:
                if exc.code == "disconnected":
                    return  # the rejoin after the reconnect fills again
                if exc.code not in RETRYABLE_HISTORY_ERRORS or stalled >= HISTORY_RETRY_ATTEMPTS:
                    self._report_error(exc.error, room_id)
                    self._give_up(room_id, room)
                    return
                await self._sleep(max(retry_pause(stalled), exc.retry_after or 0.0))
                stalled += 1
                continue
            if self._rooms.get(room_id) is not room or room.last != after:
                return  # left, or rejoined afresh, while the page was on its way
            if self._take_page(room_id, room, page):
                stalled = 0
                continue
            if room.last is not None and not room.held and room.last >= room.known:
                return  # complete
            if stalled >= HISTORY_RETRY_ATTEMPTS:
                self._give_up(room_id, room)
                return
            await self._sleep(retry_pause(stalled))
            stalled += 1

    def _take_page(self, room_id: str, room: _Room, page: Frame) -> bool:
        """Merge one getHistory ack; True when it made progress and more may follow."""
        assert room.last is not None
        after = room.last
        latest = seq_of(page.get("latestSeq")) or 0
        if latest == 0:
            self._give_up(room_id, room)  # history is off: nothing can fill the gap
            return False
        room.known = max(room.known, latest)
        earliest = seq_of(page.get("earliestSeq")) or 0  # absent: assume nothing expired
        if after + 1 < earliest:
            # Expired: report up to the first seq still available, then go on from there.
            available = min([earliest, *room.held])
            self._report(room_id, after + 1, available - 1)
            room.last = available - 1
            if available < earliest:  # a held frame sits inside the expired range
                self._advance(room, room.last)
                return True
        messages = page.get("messages")
        top = room.last
        for message in messages if isinstance(messages, list) else []:
            seq = seq_of(message.get("seq")) if isinstance(message, dict) else None
            if seq is None or seq <= room.last or seq > latest:
                continue
            room.held.setdefault(seq, message)
            top = max(top, seq)
        # What the page proves: every seq below the last one returned was skipped if it is
        # not there; with hasMore false, every seq up to latestSeq is accounted for.
        has_more = page.get("hasMore") is True
        self._advance(room, top if has_more else max(top, latest))
        return has_more and top > after

    def _give_up(self, room_id: str, room: _Room) -> None:
        """History cannot fill the gap: report it and carry on from the first seq we have."""
        while room.last is not None:
            end = min(room.held) - 1 if room.held else room.known
            if end > room.last:
                self._report(room_id, room.last + 1, end)  # one report per gap
                room.last = end
            self._advance(room, room.last)
            if not room.held and room.last >= room.known:
                return

    @staticmethod
    def _halt(room: _Room) -> None:
        if room.timer is not None:
            room.timer.cancel()
            room.timer = None
        room.refill = False
        filler, room.filler = room.filler, None
        if filler is not None:
            filler.cancel()
