"""The JavaScript client over a real socket: Node's built-in WebSocket against the fake server.

The Node unit tests use a scripted fake socket; these check the same client end to end
(handshake with ?token=, text frames, close codes, reconnect and rejoin) with no npm package,
and its delivery continuity against the fake gateway speaking protocol v1.1 (seq order, a live
gap filled from paged history, resume after the server drops the socket, a rejoin ack
overtaken by a live frame, history expired while away).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from tests.clients.fake_protocol_server import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "clients" / "js" / "testkit" / "real-socket-smoke.mjs"
CONTINUITY = ROOT / "clients" / "js" / "testkit" / "real-socket-continuity.mjs"
WAIT_S = 10.0  # upper bound on waiting for one line from Node; a healthy run needs far less


def node_command() -> list[str]:
    """Node with a global WebSocket: built in from Node 22, behind a flag on Node 20."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required for the JavaScript client tests (Node >= 20.11)")
    probe = subprocess.run(
        [node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], check=False
    )
    return [node] if probe.returncode == 0 else [node, "--experimental-websocket"]


async def test_js_client_round_trip_reconnect_and_rejoin(gateway: FakeGateway) -> None:
    gateway.errors = {"leaveRoom": "not_member"}

    async def server_side() -> None:
        await gateway.next_frame("sendMessage")
        await gateway.push(
            {
                "type": "message",
                "roomId": "lobby",
                "messageId": "m-9",
                "from": {"userId": "bob"},
                "data": {"from": "python"},
                "sentAt": "2026-01-01T00:00:00Z",
            }
        )
        await gateway.next_frame("heartbeat")
        await gateway.drop(1001, "going away")
        index, rejoin = await gateway.next_frame("joinRoom")
        assert (index, rejoin["roomId"]) == (1, "lobby")

    server = asyncio.create_task(server_side())
    process = await asyncio.create_subprocess_exec(
        *node_command(),
        "--disable-warning=ExperimentalWarning",
        str(SMOKE),
        gateway.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:  # timed out: do not leave node running
            process.kill()
            await process.wait()
    await asyncio.wait_for(server, 5)
    assert process.returncode == 0, err.decode()
    steps: dict[str, Any] = {}
    states: list[dict[str, Any]] = []
    for line in out.decode().splitlines():
        record = json.loads(line)
        if record["step"] == "state":
            states.append(record["value"])
        else:
            steps[record["step"]] = record["value"]
    assert gateway.tokens == ["smoke-1", "smoke-2"]  # a fresh token for the reconnect
    assert steps == {
        "join": [{"userId": "alice"}],
        "sent": "m-1",
        "message": {"from": "python"},
        "error": "not_member",
        "rejoin": "lobby",
        "presence": [{"userId": "alice"}, {"userId": "bob"}],
    }
    assert [s["state"] for s in states] == ["connecting", "open", "reconnecting", "open", "closed"]
    assert states[2]["code"] == 1001
    closes = dict([await gateway.next_close(), await gateway.next_close()])
    assert closes == {0: 1001, 1: 1000}  # the server's drop echoed; close() sends 1000


# ---- delivery continuity (protocol v1.1) ----------------------------------------------------

ROOM = "lobby"
# A user-targeted event carries no seq, so it passes straight through: it ends the Node script.
DONE = {"type": "event", "target": {"userId": "alice"}, "event": "done", "messageId": "done"}
Record = dict[str, Any]


class NodeClient:
    """clients/js/testkit/real-socket-continuity.mjs joined to one room, its JSON lines read as
    they come, so the test can act on what the application has seen. Killed if left running."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.records: list[Record] = []
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            *node_command(),
            "--disable-warning=ExperimentalWarning",
            str(CONTINUITY),
            self.url,
            ROOM,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        assert process is not None
        if process.returncode is None:  # a failed test: do not leave node running
            process.kill()
            await process.wait()

    async def until(self, predicate: Callable[[Record], bool]) -> Record:
        """Read lines until one matches (every line read is kept in ``records``)."""
        process = self._process
        assert process is not None and process.stdout is not None
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), WAIT_S)
            if not line:
                assert process.stderr is not None
                err = await process.stderr.read()
                pytest.fail(f"node ended early ({await process.wait()}): {err.decode()}")
            record: Record = json.loads(line)
            self.records.append(record)
            if predicate(record):
                return record

    async def step(self, step: str) -> Any:
        """The value of the next line of this step."""
        return (await self.until(lambda r: r["step"] == step))["value"]

    async def delivered(self, seq: int) -> None:
        """Wait until the application received the frame with this seq."""
        await self.until(lambda r: r["step"] in {"message", "event"} and r["value"]["seq"] == seq)

    async def finish(self, gateway: FakeGateway) -> None:
        """End the script (DONE event on the current connection); it must exit cleanly."""
        process = self._process
        assert process is not None and process.stdout is not None
        await gateway.push(DONE)
        out, err = await asyncio.wait_for(process.communicate(), WAIT_S)
        assert process.returncode == 0, err.decode()
        self.records += [json.loads(line) for line in out.decode().splitlines()]

    def log(self) -> list[Any]:
        """What the application saw, in order: seqs of numbered frames, and gaps."""
        seen: list[Any] = []
        for r in self.records:
            if r["step"] in {"message", "event"}:
                seen.append(r["value"]["seq"])
            elif r["step"] == "discontinuity":
                seen.append(r["value"])
        return seen

    def steps(self, step: str) -> list[Any]:
        return [r["value"] for r in self.records if r["step"] == step]


async def first_join(gateway: FakeGateway, node: NodeClient) -> int:
    """Wait for the application's join (answered by the gateway); its latestSeq."""
    await gateway.next_frame("joinRoom")
    return int((await node.step("joined"))["latestSeq"])


def history_requests(gateway: FakeGateway) -> list[tuple[str, int, int]]:
    return [(r["roomId"], r["afterSeq"], r["limit"]) for r in gateway.requests("getHistory")]


async def test_js_client_fills_a_live_gap_from_history_in_seq_order(gateway: FakeGateway) -> None:
    gateway.v11 = True
    gateway.page_size = 1  # the fill pages, one message a page
    for _ in range(3):
        gateway.publish(ROOM)  # sent before the join: history, not ours to deliver
    async with NodeClient(gateway.url) as node:
        assert await first_join(gateway, node) == 3
        four = gateway.publish(ROOM)
        five = gateway.publish(ROOM, kind="event")  # room events share the sequence
        gateway.publish(ROOM, store=False)  # 6: allocated, never stored (its writer died)
        seven, eight = gateway.publish(ROOM), gateway.publish(ROOM)
        for frame in (four, eight, seven, eight):  # 5 and 6 lost on the way, 8 before 7, twice
            await gateway.push(frame)
        await node.delivered(8)
        await gateway.push(five)  # a late copy of 5, which history gave
        await gateway.push(seven)
        await node.finish(gateway)
    assert node.log() == [4, 5, 7, 8]  # 6 passed silently: history proved it skipped
    assert [r["step"] for r in node.records if r["step"] in {"message", "event"}] == [
        "message",
        "event",
        "message",
        "message",
    ]
    # After the gap wait: pages after the last delivered seq (afterSeq 5: the page of 5
    # said hasMore); 7 from the second page, 8 was held.
    assert history_requests(gateway) == [(ROOM, 4, 100), (ROOM, 5, 100)]
    assert node.steps("error") == []


async def test_js_client_resumes_from_history_after_the_server_drops_the_socket(
    gateway: FakeGateway,
) -> None:
    gateway.v11 = True
    gateway.page_size = 2
    async with NodeClient(gateway.url) as node:
        assert await first_join(gateway, node) == 0
        await gateway.push(gateway.publish(ROOM))
        await node.delivered(1)
        gateway.held = {"joinRoom", "getHistory"}  # answered below, in a chosen order
        await gateway.drop(1001, "going away")
        index, rejoin = await gateway.next_frame("joinRoom")
        assert index == 1
        for _ in range(4):
            gateway.publish(ROOM)  # 2..5: sent while the client was away
        await gateway.reply(rejoin, index)  # latestSeq 5
        _, page = await gateway.next_frame("getHistory")
        assert page["afterSeq"] == 1
        await gateway.push(gateway.publish(ROOM), index)  # 6, live, before history answers
        gateway.held = set()
        await gateway.reply(page, index)  # [2, 3], hasMore; the next page is answered as asked
        await node.delivered(6)
        await node.finish(gateway)
    assert node.log() == [1, 2, 3, 4, 5, 6]  # the missed messages before the newer live one
    assert node.steps("rejoin") == [{"roomId": ROOM, "latestSeq": 5}]
    # Two pages of two: [2, 3] and [4, 5]; the held 6 then follows, nothing is left to ask.
    assert history_requests(gateway) == [(ROOM, 1, 100), (ROOM, 3, 100)]
    assert [r[0] for r in gateway.received if r[1].get("action") == "getHistory"] == [1, 1]
    states = node.steps("state")
    assert [s["state"] for s in states] == ["connecting", "open", "reconnecting", "open", "closed"]
    assert states[2]["code"] == 1001
    assert gateway.tokens == ["continuity-1", "continuity-2"]
    assert node.steps("error") == []


async def test_js_client_rejoin_ack_overtaken_by_a_live_frame_is_no_reset(
    gateway: FakeGateway,
) -> None:
    gateway.v11 = True
    async with NodeClient(gateway.url) as node:
        assert await first_join(gateway, node) == 0
        await gateway.push(gateway.publish(ROOM))
        await node.delivered(1)
        gateway.held = {"joinRoom"}
        await gateway.drop(1001, "going away")
        index, rejoin = await gateway.next_frame("joinRoom")
        await gateway.push(gateway.publish(ROOM), index)  # 2, sent just after the rejoin...
        await node.delivered(2)
        await gateway.reply(rejoin, index, latestSeq=1)  # ...overtakes its ack, read before it
        await node.step("rejoin")
        await gateway.push(gateway.publish(ROOM), index)
        await node.delivered(3)
        await node.finish(gateway)
    assert node.log() == [1, 2, 3]  # no discontinuity, nothing delivered twice
    assert node.steps("rejoin") == [{"roomId": ROOM, "latestSeq": 1}]
    assert gateway.requests("getHistory") == []


async def test_js_client_reports_history_expired_while_away_once(gateway: FakeGateway) -> None:
    gateway.v11 = True
    async with NodeClient(gateway.url) as node:
        assert await first_join(gateway, node) == 0
        await gateway.push(gateway.publish(ROOM))
        await node.delivered(1)
        for _ in range(6):
            gateway.publish(ROOM)  # 2..7, missed
        gateway.earliest[ROOM] = 5  # 2..4 have expired
        await gateway.drop(1001, "going away")
        await node.delivered(7)
        await gateway.push(gateway.publish(ROOM))
        await node.delivered(8)
        await node.finish(gateway)
    gap = {"type": "discontinuity", "roomId": ROOM, "fromSeq": 2, "toSeq": 4}
    assert node.log() == [1, gap, 5, 6, 7, 8]
    assert history_requests(gateway) == [(ROOM, 1, 100)]
    assert node.steps("error") == []
