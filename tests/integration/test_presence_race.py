"""The presence race of issue 12, through the local gateway and the real handlers.

Two connections of one user join a room at the same instant, then leave it (or close) at
the same instant. Before presence transitions were atomic, the other member missed the
`join` in 28 of 30 trials and heard `leave` twice in 26 of 30: each handler wrote its
membership, then read the room, and both saw the other's connection. Now the member hears
exactly one `join` and one `leave` per trial.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.integration.conftest import GatewayProcess, gateway_fixture
from tools.devtoken import mint

pytestmark = pytest.mark.slow

TRIALS = 30
ROOM = "race"
gw = gateway_fixture({"LOG_LEVEL": "ERROR"})


async def _request(ws: ClientConnection, body: dict[str, Any]) -> dict[str, Any]:
    """Send a request; return its reply (the socket of a racing user gets no other frame)."""
    await ws.send(json.dumps(body))
    while True:
        frame = json.loads(await ws.recv(decode=True))
        if frame["type"] in ("ack", "error"):
            return dict(frame)


async def _heard(watcher: ClientConnection, counts: Counter[str], want: int) -> None:
    """Read the watcher's presence frames until it heard `want` of each (or time out)."""
    deadline = time.monotonic() + 15
    while min(counts["join"], counts["leave"]) < want and time.monotonic() < deadline:
        try:
            raw = await asyncio.wait_for(watcher.recv(decode=True), deadline - time.monotonic())
        except TimeoutError:
            return
        frame = json.loads(raw)
        if frame["type"] == "presence" and frame["userId"] == "alice":
            counts[frame["event"]] += 1


async def test_concurrent_join_and_leave_of_one_users_connections_are_heard_once(
    gw: GatewayProcess,
) -> None:
    join = {"action": "joinRoom", "roomId": ROOM}
    leave = {"action": "leaveRoom", "roomId": ROOM}
    async with connect(gw.url(mint("watcher", "race"))) as watcher:
        assert (await _request(watcher, join))["type"] == "ack"
        counts: Counter[str] = Counter()
        per_trial: list[tuple[int, int]] = []
        for trial in range(TRIALS):
            before = dict(counts)
            a = await connect(gw.url(mint("alice", "race")))
            b = await connect(gw.url(mint("alice", "race")))
            acks = await asyncio.gather(_request(a, join), _request(b, join))
            assert [ack["type"] for ack in acks] == ["ack", "ack"], acks
            if trial % 2:  # leaveRoom from both at once
                acks = await asyncio.gather(_request(a, leave), _request(b, leave))
                assert [ack["type"] for ack in acks] == ["ack", "ack"], acks
                await asyncio.gather(a.close(), b.close())
            else:  # both sockets close at once: two $disconnects race
                await asyncio.gather(a.close(), b.close())
            await _heard(watcher, counts, trial + 1)
            per_trial.append(
                (counts["join"] - before.get("join", 0), counts["leave"] - before.get("leave", 0))
            )
        await _heard(watcher, counts, TRIALS + 1)  # anything late (a duplicate) shows up
        missed = sum(1 for joins, _ in per_trial if joins == 0)
        doubled = sum(1 for _, leaves in per_trial if leaves > 1)
        print(f"presence race: {TRIALS} trials, join missed {missed}, leave doubled {doubled}")
        assert per_trial == [(1, 1)] * TRIALS, per_trial
        ack = await _request(watcher, {"action": "getPresence", "roomId": ROOM})
        assert ack["users"] == [{"userId": "watcher"}] and ack["memberCount"] == 1
