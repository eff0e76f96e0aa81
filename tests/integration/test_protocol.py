"""Protocol v1 end to end: the product's handlers behind the local gateway, real clients.

What an outside client sees: handshake rejections, acks and errors, presence, two tenants,
two connections of one user, a 150-member room through the SQS fan-out, server-side
publish, 410 pruning, TTL expiry through the sweeper and the stream cleanup, limits.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.integration.conftest import ROOT, GatewayProcess, eventually, gateway_fixture
from tools.devtoken import mint

pytestmark = pytest.mark.slow

FANOUT_THRESHOLD = 5
# Above the threshold, so deliveries go through the SQS fan-out queue and its worker. The
# acceptance scenario's 150 members work too (ITEST_ROOM_SIZE=150) but take about a minute
# on a small, busy machine: moto's DynamoDB answers GSI queries by scanning every item.
ROOM_SIZE = int(os.environ.get("ITEST_ROOM_SIZE", "30"))
ORIGIN = Origin("http://app.example")

real = gateway_fixture(
    {
        "FANOUT_THRESHOLD": str(FANOUT_THRESHOLD),
        "GATEWAY_TTL_SWEEP_S": "0.2",
        "LOG_LEVEL": "WARNING",
    }
)
strict = gateway_fixture(
    {
        "GATEWAY_IDLE_TIMEOUT_S": "1",
        "GATEWAY_MAX_DURATION_S": "2.5",
        "ALLOWED_ORIGINS": ORIGIN,
        "LOG_LEVEL": "WARNING",
    }
)
_ids = itertools.count(1)


class Client:
    """A protocol v1 client: replies matched by requestId, everything else is an event."""

    def __init__(self, ws: ClientConnection, user: str, tenant: str) -> None:
        self.ws, self.user, self.tenant = ws, user, tenant
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.anonymous: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls, gw: GatewayProcess, user: str, tenant: str, rooms: list[str] | None = None, **kw: Any
    ) -> Client:
        ws = await connect(gw.url(mint(user, tenant, rooms=rooms)), **kw)
        return cls(ws, user, tenant)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                request_id = (
                    frame.get("requestId") if frame.get("type") in ("ack", "error") else None
                )
                if request_id in self.pending:
                    self.pending.pop(request_id).set_result(frame)
                elif frame.get("type") in ("ack", "error"):
                    self.anonymous.put_nowait(frame)
                else:
                    self.events.put_nowait(frame)
        except ConnectionClosed:
            pass

    async def call(self, action: str, timeout: float = 20, **fields: Any) -> dict[str, Any]:
        request_id = f"r{next(_ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        await self.ws.send(json.dumps({"action": action, "requestId": request_id, **fields}))
        return await asyncio.wait_for(future, timeout)

    async def raw(self, frame: str) -> dict[str, Any]:
        """Send a frame whose reply cannot carry our requestId (invalid JSON...)."""
        await self.ws.send(frame)
        return await asyncio.wait_for(self.anonymous.get(), 20)

    async def event(self, timeout: float = 20) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def quiet(self) -> None:
        """Assert nothing was delivered: a round trip flushes anything posted before it."""
        await self.call("heartbeat")
        assert self.events.empty(), self.events.get_nowait()

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def test_handshake_rejections_with_the_real_authorizer(real: GatewayProcess) -> None:
    expired = mint("alice", "acme", now=int(time.time()) - 7200)
    for url, status in [
        (real.ws_url, 401),
        (f"{real.ws_url}?token=", 401),
        (f"{real.ws_url}?token=not.a.jwt", 401),
        (f"{real.ws_url}?token={expired}", 401),
    ]:
        with pytest.raises(InvalidStatus) as rejected:
            async with connect(url):
                pass
        assert rejected.value.response.status_code == status, url


async def test_origin_not_allowed_is_403(strict: GatewayProcess) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        async with connect(strict.url(mint("alice", "acme")), origin=Origin("http://evil.example")):
            pass
    assert rejected.value.response.status_code == 403
    async with connect(strict.url(mint("alice", "acme")), origin=ORIGIN) as ws:
        await ws.send(json.dumps({"action": "heartbeat"}))
        assert json.loads(await ws.recv())["type"] == "ack"


async def test_rooms_presence_and_messages(real: GatewayProcess) -> None:
    alice = await Client.open(real, "alice", "acme")
    bob = await Client.open(real, "bob", "acme")
    ack = await alice.call("joinRoom", roomId="lobby")
    assert ack["type"] == "ack" and ack["action"] == "joinRoom" and ack["roomId"] == "lobby"
    assert ack["members"] == [{"userId": "alice"}]
    ack = await bob.call("joinRoom", roomId="lobby")
    assert sorted(m["userId"] for m in ack["members"]) == ["alice", "bob"]
    assert await alice.event() == {
        "type": "presence",
        "roomId": "lobby",
        "event": "join",
        "userId": "bob",
    }

    sent = await bob.call("sendMessage", roomId="lobby", data={"text": "hi", "n": [1, 2]})
    assert sent["type"] == "ack" and sent["roomId"] == "lobby" and sent["messageId"]
    message = await alice.event()
    assert message["type"] == "message" and message["roomId"] == "lobby"
    assert message["messageId"] == sent["messageId"]
    assert message["from"] == {"userId": "bob"}
    assert message["data"] == {"text": "hi", "n": [1, 2]}
    assert message["sentAt"].endswith("Z")
    await bob.quiet()  # the sender does not get its own message

    presence = await alice.call("getPresence", roomId="lobby")
    assert sorted(u["userId"] for u in presence["users"]) == ["alice", "bob"]
    tenant = await alice.call("getPresence")
    assert {"userId": "bob"} in tenant["users"]

    assert (await bob.call("leaveRoom", roomId="lobby"))["roomId"] == "lobby"
    assert (await alice.event())["event"] == "leave"
    await bob.close()
    await alice.close()


async def test_two_tenants_never_see_each_other(real: GatewayProcess) -> None:
    alice = await Client.open(real, "alice", "acme")
    gus = await Client.open(real, "gus", "globex")
    await alice.call("joinRoom", roomId="shared")
    ack = await gus.call("joinRoom", roomId="shared")
    assert ack["members"] == [{"userId": "gus"}]
    await alice.call("sendMessage", roomId="shared", data="acme only")
    await gus.quiet()
    await alice.quiet()  # no presence from the other tenant either
    # Identity comes from the authorizer only: forged body fields change nothing.
    forged_fields: dict[str, Any] = {"userId": "alice", "tenantId": "acme", "from": "x"}
    forged = await gus.call("sendMessage", roomId="shared", data=1, **forged_fields)
    assert forged["type"] == "ack"
    await alice.quiet()
    presence = await gus.call("getPresence")
    assert [u["userId"] for u in presence["users"]] == ["gus"]
    await alice.close()
    await gus.close()


async def test_two_connections_of_one_user(real: GatewayProcess) -> None:
    watcher = await Client.open(real, "walt", "two")
    phone = await Client.open(real, "uma", "two")
    laptop = await Client.open(real, "uma", "two")
    await watcher.call("joinRoom", roomId="r")
    await phone.call("joinRoom", roomId="r")
    assert (await watcher.event())["event"] == "join"
    ack = await laptop.call("joinRoom", roomId="r")
    assert sorted(m["userId"] for m in ack["members"]) == ["uma", "walt"]  # deduplicated
    await watcher.quiet()  # no second join: uma was already there
    await watcher.call("sendMessage", roomId="r", data="both")
    assert (await phone.event())["data"] == "both"
    assert (await laptop.event())["data"] == "both"
    await laptop.close()
    await watcher.quiet()  # uma is still online on her phone
    await phone.close()
    assert await watcher.event() == {
        "type": "presence",
        "roomId": "r",
        "event": "leave",
        "userId": "uma",
    }
    await watcher.close()


@pytest.mark.parametrize(
    ("frame", "code", "action"),
    [
        ("not json", "invalid_json", None),
        ('{"action": "fly"}', "unknown_action", "fly"),
        # Nested deeper than JSON parsers go: invalid_json like any unparsable frame.
        ('{"action": "joinRoom", "x": ' + "[" * 1_000 + "]" * 1_000 + "}", "invalid_json", None),
        ('{"a":' * 20_000 + "1" + "}" * 20_000, "invalid_json", None),  # 120 KB
    ],
    ids=["text", "unknown-action", "nested-1000", "nested-20000"],
)
async def test_error_frames_for_unroutable_input(
    real: GatewayProcess, frame: str, code: str, action: str | None
) -> None:
    client = await Client.open(real, "eve", "acme")
    reply = await client.raw(frame)
    assert reply["type"] == "error" and reply["code"] == code and reply["action"] == action
    assert "Traceback" not in reply["message"]
    await client.close()


async def test_error_frames_echo_the_request_id(real: GatewayProcess) -> None:
    client = await Client.open(real, "eve", "acme", rooms=["team-*"])
    bad = await client.call("joinRoom", roomId="bad room!")
    assert (bad["type"], bad["code"], bad["action"]) == ("error", "invalid_request", "joinRoom")
    assert bad["requestId"].startswith("r")
    assert (await client.call("joinRoom", roomId="lobby"))["code"] == "forbidden"
    assert (await client.call("sendMessage", roomId="team-a", data=1))["code"] == "not_member"
    assert (await client.call("joinRoom", roomId="team-a"))["type"] == "ack"
    await client.close()


async def test_large_room_goes_through_the_sqs_fanout(real: GatewayProcess) -> None:
    # ROOM_SIZE connections of ROOM_SIZE / 3 users (some users on several connections).
    members = [
        await Client.open(real, f"m{i % max(1, ROOM_SIZE // 3):03}", "big")
        for i in range(ROOM_SIZE)
    ]
    await asyncio.gather(*(m.call("joinRoom", timeout=120, roomId="arena") for m in members))
    sender = await Client.open(real, "speaker", "big")
    await sender.call("joinRoom", roomId="arena")
    sent = await sender.call("sendMessage", roomId="arena", data={"big": True})
    assert sent["type"] == "ack"

    async def receive(member: Client) -> None:
        while True:
            event = await member.event(60)
            if event["type"] == "message":
                assert event["messageId"] == sent["messageId"] and event["data"] == {"big": True}
                return

    await asyncio.gather(*(receive(m) for m in members))
    await asyncio.gather(*(m.close() for m in [*members, sender]))


def run_publish(gw: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORT": str(gw.port), "STAGE": gw.stage}
    return subprocess.run(
        ["make", "-s", "publish", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_server_side_publish_to_room_user_and_tenant(real: GatewayProcess) -> None:
    ann = await Client.open(real, "ann", "pub")
    ben = await Client.open(real, "ben", "pub")
    other = await Client.open(real, "ann", "otherco")
    await ann.call("joinRoom", roomId="news")
    await other.call("joinRoom", roomId="news")

    async def publish(*args: str) -> dict[str, Any]:
        done = await asyncio.to_thread(run_publish, real, "TENANT=pub", *args)
        assert done.returncode == 0, done.stderr
        (line,) = done.stdout.splitlines()
        result: dict[str, Any] = json.loads(line)
        return result

    published = await publish("ROOM=news", "EVENT=headline", 'DATA={"t": 1}')
    assert published["ok"] is True
    assert await ann.event() == {
        "type": "event",
        "target": {"roomId": "news"},
        "event": "headline",
        "messageId": published["messageId"],
        "seq": published["seq"],
        "data": {"t": 1},
    }
    await publish("USER=ben", "EVENT=dm", "DATA=2")
    assert (await ben.event())["target"] == {"userId": "ben"}
    await publish("ALL=1", "EVENT=all", "DATA=null")
    assert (await ann.event())["event"] == "all" and (await ben.event())["event"] == "all"
    await ann.quiet()
    await other.quiet()  # another tenant's "ann" and "news" never get pub's events
    await asyncio.gather(ann.close(), ben.close(), other.close())


def user_items(gw: GatewayProcess, tenant: str, user: str) -> list[dict[str, Any]]:
    """The connection items of a user (GSI1, as ARCHITECTURE.md documents the keys)."""
    ddb = gw.aws("dynamodb")
    items: list[dict[str, Any]] = ddb.query(
        TableName=gw.health["tableName"],
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USER#{tenant}#{user}"}},
    )["Items"]
    return items


def connection_items(gw: GatewayProcess, connection_id: str) -> list[dict[str, Any]]:
    ddb = gw.aws("dynamodb")
    table = gw.health["tableName"]
    meta = ddb.query(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CONN#{connection_id}"}},
    )["Items"]
    memberships = ddb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CONN#{connection_id}"}},
    )["Items"]
    return [*meta, *memberships]


async def test_a_killed_client_is_pruned_on_the_next_broadcast(real: GatewayProcess) -> None:
    keeper = await Client.open(real, "kim", "prune")
    victim = await Client.open(real, "vic", "prune")
    await keeper.call("joinRoom", roomId="p")
    await victim.call("joinRoom", roomId="p")
    assert (await keeper.event())["event"] == "join"
    (meta,) = user_items(real, "prune", "vic")
    connection_id = meta["PK"]["S"].removeprefix("CONN#")
    stale = connection_items(real, connection_id)
    assert len(stale) == 2  # META + membership
    ddb = real.aws("dynamodb")
    table = real.health["tableName"]
    presence_key = {"PK": {"S": "ROOM#prune#p"}, "SK": {"S": "USER#vic"}}
    counters_key = {"PK": {"S": "ROOM#prune#p"}, "SK": {"S": "PRESENCE"}}
    for key in (presence_key, counters_key):  # vic's presence and the room's member count
        stale.append(ddb.get_item(TableName=table, Key=key)["Item"])

    victim.ws.transport.abort()  # killed: no close frame
    assert (await keeper.event())["event"] == "leave"  # $disconnect fired (1006)
    # (its cleanup announces first, then deletes the memberships and the connection)
    await asyncio.to_thread(eventually, lambda: not connection_items(real, connection_id))
    # Lose that $disconnect (AWS delivers it best-effort): restore the items it removed.
    for item in stale:
        ddb.put_item(TableName=table, Item=item)
    users = (await keeper.call("getPresence", roomId="p"))["users"]
    assert sorted(u["userId"] for u in users) == ["kim", "vic"]
    await keeper.call("sendMessage", roomId="p", data="anyone?")  # PostToConnection -> 410
    await asyncio.to_thread(eventually, lambda: not connection_items(real, connection_id))
    presence = await keeper.call("getPresence", roomId="p")
    assert (presence["users"], presence["memberCount"]) == ([{"userId": "kim"}], 1)
    await keeper.close()


async def test_ttl_expiry_through_the_sweeper_and_stream_cleanup(real: GatewayProcess) -> None:
    stayer = await Client.open(real, "sam", "ttl")
    sleeper = await Client.open(real, "zed", "ttl")
    await stayer.call("joinRoom", roomId="t")
    await sleeper.call("joinRoom", roomId="t")
    assert (await stayer.event())["event"] == "join"
    (meta,) = user_items(real, "ttl", "zed")
    # Age zed's connection item as if its TTL had passed without a heartbeat.
    real.aws("dynamodb").update_item(
        TableName=real.health["tableName"],
        Key={"PK": meta["PK"], "SK": meta["SK"]},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    # Sweeper deletes it -> REMOVE record marked as TTL -> stream_cleanup: presence leave,
    # memberships removed, DeleteConnection closes the socket.
    assert await stayer.event() == {
        "type": "presence",
        "roomId": "t",
        "event": "leave",
        "userId": "zed",
    }
    await asyncio.wait_for(sleeper.reader, 20)
    assert sleeper.ws.close_code == 1000
    assert (await stayer.call("getPresence", roomId="t"))["users"] == [{"userId": "sam"}]
    await stayer.close()


async def test_management_delete_fires_disconnect_and_presence(real: GatewayProcess) -> None:
    stayer = await Client.open(real, "sue", "mgmt")
    leaver = await Client.open(real, "leo", "mgmt")
    await stayer.call("joinRoom", roomId="m")
    await leaver.call("joinRoom", roomId="m")
    assert (await stayer.event())["event"] == "join"
    (meta,) = user_items(real, "mgmt", "leo")
    client = real.management()
    connection_id = meta["PK"]["S"].removeprefix("CONN#")
    info = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
    await asyncio.wait_for(leaver.reader, 10)
    assert leaver.ws.close_code == 1000
    assert (await stayer.event())["event"] == "leave"
    await stayer.close()


async def test_oversized_message_closes_1009_and_announces_leave(real: GatewayProcess) -> None:
    stayer = await Client.open(real, "ola", "big-msg")
    sender = await Client.open(real, "pat", "big-msg")
    await stayer.call("joinRoom", roomId="b")
    await sender.call("joinRoom", roomId="b")
    assert (await stayer.event())["event"] == "join"
    await sender.ws.send(
        json.dumps({"action": "sendMessage", "roomId": "b", "data": "x" * 140_000})
    )
    await asyncio.wait_for(sender.reader, 10)
    assert sender.ws.close_code == 1009
    assert (await stayer.event())["event"] == "leave"
    await stayer.quiet()  # the oversized message was never delivered
    await stayer.close()


async def test_idle_and_maximum_duration_close_with_1001(strict: GatewayProcess) -> None:
    async def idle() -> float:
        started = time.monotonic()
        client = await Client.open(strict, "idle", "acme", origin=ORIGIN, ping_interval=None)
        await client.call("joinRoom", roomId="i")
        await asyncio.wait_for(client.reader, 10)
        assert client.ws.close_code == 1001
        return time.monotonic() - started

    async def busy() -> float:
        started = time.monotonic()
        client = await Client.open(strict, "busy", "acme", origin=ORIGIN, ping_interval=None)
        while not client.reader.done():  # activity every 0.3 s keeps it from idling out
            await client.ws.send(json.dumps({"action": "heartbeat"}))
            await asyncio.wait([client.reader], timeout=0.3)
        assert client.ws.close_code == 1001
        return time.monotonic() - started

    idle_s, busy_s = await asyncio.gather(idle(), busy())
    assert 0.9 <= idle_s < 2.0
    assert 2.4 <= busy_s < 4.0
