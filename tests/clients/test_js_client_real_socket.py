"""The JavaScript client over a real socket: Node's built-in WebSocket against the fake server.

The Node unit tests use a scripted fake socket; this one checks the same client end to end
(handshake with ?token=, text frames, close codes, reconnect and rejoin) with no npm package.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.clients.fake_protocol_server import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "clients" / "js" / "testkit" / "real-socket-smoke.mjs"


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
