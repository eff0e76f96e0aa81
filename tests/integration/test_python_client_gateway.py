"""The Python client and its command line against the local gateway and the real handlers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.conftest import ROOT, GatewayProcess, gateway_fixture
from tools.devtoken import mint
from wsclient import ClientError, WsClient

if TYPE_CHECKING:
    from wsclient.client import EventStream

gw = gateway_fixture({"LOG_LEVEL": "WARNING"})
# A connection may send 4 per second, 2 at once (T = 250 ms); tenants keep the defaults.
limited = gateway_fixture(
    {
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_CONNECTION_PER_SECOND": "4",
        "RATE_LIMIT_CONNECTION_BURST": "2",
    }
)
WAIT_S = 15.0


async def _next(stream: EventStream, **match: Any) -> dict[str, Any]:
    """The next event whose fields include `match` (bounded wait, no sleeps)."""

    async def find() -> dict[str, Any]:
        async for frame in stream:
            if all(frame.get(k) == v for k, v in match.items()):
                return dict(frame)
        raise AssertionError("the event stream ended")

    return await asyncio.wait_for(find(), WAIT_S)


def _client(gateway: GatewayProcess, user: str, tenant: str = "acme") -> WsClient:
    return WsClient(gateway.ws_url, token=lambda: mint(user, tenant))


async def test_join_presence_message_and_error_codes(gw: GatewayProcess) -> None:
    async with _client(gw, "pyalice") as alice, _client(gw, "pybob") as bob:
        alice_events = alice.events("message", "presence")
        ack = await alice.join_room("py-lobby")
        assert ack["members"] == [{"userId": "pyalice"}]
        ack = await bob.join_room("py-lobby")
        assert sorted(m["userId"] for m in ack["members"]) == ["pyalice", "pybob"]
        joined = await _next(alice_events, type="presence")
        assert joined == {
            "type": "presence",
            "roomId": "py-lobby",
            "event": "join",
            "userId": "pybob",
        }
        sent = await bob.send_message("py-lobby", {"text": "hi"})
        message = await _next(alice_events, type="message")
        assert message["messageId"] == sent["messageId"]
        assert message["from"] == {"userId": "pybob"} and message["data"] == {"text": "hi"}
        with pytest.raises(ClientError) as refused:
            await bob.send_message("not-joined", 1)
        assert refused.value.code == "not_member"
        presence = await alice.get_presence()
        assert {"pyalice", "pybob"} <= {u["userId"] for u in presence["users"]}


async def test_gateway_side_close_reconnects_and_rejoins(gw: GatewayProcess) -> None:
    async with _client(gw, "pycarol") as carol, _client(gw, "pydave") as dave:
        await carol.join_room("py-ops")
        await dave.join_room("py-ops")
        rejoined: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        carol.on("rejoin", lambda ack: rejoined.done() or rejoined.set_result(ack))
        messages = carol.events("message")
        connection_id = _connection_of(gw, "pycarol")
        await asyncio.to_thread(gw.management().delete_connection, ConnectionId=connection_id)
        ack = await asyncio.wait_for(rejoined, WAIT_S)
        assert ack["roomId"] == "py-ops"
        assert {"pycarol", "pydave"} <= {m["userId"] for m in ack["members"]}
        assert _connection_of(gw, "pycarol") != connection_id
        await dave.send_message("py-ops", "after the reconnect")
        assert (await _next(messages, type="message"))["data"] == "after the reconnect"


def _connection_of(gateway: GatewayProcess, user: str) -> str:
    out = gateway.aws("dynamodb").query(
        TableName=gateway.health["tableName"],
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USER#acme#{user}"}},
    )
    (item,) = out["Items"]
    return str(item["connectionId"]["S"])


def test_cli_presence_prints_json(gw: GatewayProcess) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "clients" / "python")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsclient",
            "--url",
            gw.ws_url,
            "--token",
            mint("pyerin", "acme"),
            "presence",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    ack = json.loads(out.stdout.strip().splitlines()[-1])
    assert ack["type"] == "ack" and {"userId": "pyerin"} in ack["users"]


async def test_rate_limits_refuse_change_nothing_and_the_client_backs_off(
    limited: GatewayProcess,
) -> None:
    loop = asyncio.get_running_loop()
    async with _client(limited, "rlann", "rlacme") as ann:
        await ann.join_room("rl")
        assert [(await ann.send_message("rl", n))["seq"] for n in range(2)] == [1, 2]
        with pytest.raises(ClientError) as refused:
            await ann.send_message("rl", "refused")
        wait_ms = refused.value.retry_after_ms
        assert refused.value.code == "rate_limited" and wait_ms is not None
        assert 1 <= wait_ms <= 250
        refused_at = loop.time()
        ack = await ann.send_message("rl", "held, then sent")
        assert loop.time() - refused_at >= wait_ms / 1000 - 0.01  # held until the token was back
        assert ack["seq"] == 3  # the refused message took no seq
        page = await ann.get_history("rl")
        assert [m["data"] for m in page["messages"]] == [0, 1, "held, then sent"]


async def test_a_tenants_own_limit_comes_from_its_token(limited: GatewayProcess) -> None:
    claim: dict[str, object] = {"perSecond": 1, "burst": 1}  # signed: 1 message per second

    def client(user: str) -> WsClient:
        return WsClient(limited.ws_url, token=lambda: mint(user, "rltight", rate_limit=claim))

    async with client("rlbea") as bea, client("rlcal") as cal:
        await bea.join_room("tight")
        await cal.join_room("tight")
        await bea.send_message("tight", 1)
        with pytest.raises(ClientError) as refused:
            await cal.send_message("tight", 2)  # another connection, the same tenant
    assert refused.value.code == "rate_limited"
    assert "your tenant may send 1 per second" in refused.value.message
    assert refused.value.retry_after_ms is not None and 1 <= refused.value.retry_after_ms <= 1000
