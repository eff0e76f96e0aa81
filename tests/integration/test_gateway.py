"""The gateway's API Gateway semantics, driven by real WebSocket clients.

These tests run the gateway with test-double handlers (fake_handlers/) that echo what they
receive, so they check the emulation itself: handshake, events, routing, limits,
management API, pollers. The product's handlers are exercised in test_protocol.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.conftest import (
    FAKE_HANDLERS,
    ROOT,
    GatewayProcess,
    eventually,
    gateway_fixture,
)
from tools.devtoken import DEV_AUDIENCE, DEV_SECRET
from tools.ws_events import load_event

pytestmark = pytest.mark.slow

fake = gateway_fixture(
    {
        "STAGE": "test",
        "GATEWAY_HANDLERS_DIR": str(FAKE_HANDLERS),
        "GATEWAY_TTL_SWEEP_S": "0.2",
        "GATEWAY_SQS_VISIBILITY_S": "1",
    },
    sig=signal.SIGINT,  # Ctrl-C path
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def recv_json(ws: ClientConnection, timeout: float = 10.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def request(ws: ClientConnection, body: Any) -> Any:
    """Send a frame and return the (two-way) reply."""
    await ws.send(body if isinstance(body, str | bytes) else json.dumps(body))
    return await recv_json(ws)


async def observer(gw: GatewayProcess) -> ClientConnection:
    """A connection that receives a copy of every $disconnect and stream batch."""
    return await connect(gw.url("allow:observer:ops"))


async def next_disconnect(obs: ClientConnection, *users: str) -> dict[str, Any]:
    """The next $disconnect the observer sees; of one of `users` when given (the gateway is
    shared by the module's tests: an earlier test's connection may close late)."""
    while True:
        frame = await recv_json(obs)
        assert frame["type"] == "disconnected", frame
        event: dict[str, Any] = frame["event"]
        if not users or event["requestContext"]["authorizer"]["userId"] in users:
            return event


# -- handshake -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 401),  # no token: the fake authorizer would fail with 500 if it were called
        ("?token=", 401),
        ("?token=garbage", 401),  # the authorizer raises Unauthorized
        ("?token=deny", 403),  # Deny policy
        ("?token=allow:u:t&status=403", 403),  # $connect answers 403
        ("?token=allow:u:t&status=500", 500),
    ],
)
async def test_handshake_rejections(fake: GatewayProcess, query: str, status: int) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        async with connect(fake.ws_url + query):
            pass
    assert rejected.value.response.status_code == status


def raw_handshake(gw: GatewayProcess, path: str, extra_headers: str = "") -> tuple[int, bytes]:
    """A WebSocket upgrade request over a plain socket: (status, body)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    )
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        sock.sendall(request.encode())
        stream = sock.makefile("rb")
        status = int(stream.readline().split()[1])
        headers = {}
        while (line := stream.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = stream.read(int(headers.get("content-length", "0")))
    return status, body


@pytest.mark.parametrize(
    ("url_chars", "status"),
    [
        (4096, 101),  # API Gateway's limit: accepted
        (4097, 414),  # one over: refused before the authorizer runs
        (20_000, 414),  # beyond the HTTP parser's own line limit: the same answer
    ],
)
async def test_the_url_limit_is_api_gateways_and_the_token_is_never_echoed(
    fake: GatewayProcess, url_chars: int, status: int
) -> None:
    prefix = f"/{fake.stage}?token=allow:long:acme&pad="
    secret = "S3CRET" * 5
    path = prefix + secret + "x" * (url_chars - len(prefix) - len(secret))
    assert len(path) == url_chars
    got, body = await asyncio.to_thread(raw_handshake, fake, path)
    assert got == status
    if status != 101:
        assert json.loads(body) == {"message": "Request-URI Too Long"}
    await asyncio.sleep(0.2)  # let the gateway write its log line
    assert not any(secret in line for line in fake.lines)


async def test_a_header_over_the_parsers_limit_is_431_without_an_echo(fake: GatewayProcess) -> None:
    secret = "H3ADER" * 2_000
    got, body = await asyncio.to_thread(
        raw_handshake, fake, f"/{fake.stage}?token=allow:h:acme", f"X-Big: {secret}\r\n"
    )
    assert got == 431
    assert json.loads(body) == {"message": "Request Header Fields Too Large"}
    assert not any("H3ADER" in line for line in fake.lines)


async def test_plain_http_on_the_websocket_url_is_refused(fake: GatewayProcess) -> None:
    status, _ = fake.request("GET", f"/{fake.stage}")
    assert status == 426


# -- events and routing --------------------------------------------------------------------


async def test_message_event_is_shaped_like_api_gateway(fake: GatewayProcess) -> None:
    async with connect(fake.url("allow:alice:acme"), user_agent_header="itest/1.0") as ws:
        reply = await request(ws, {"action": "heartbeat", "requestId": "r1"})
    assert reply["route"] == "heartbeat"
    event = reply["event"]
    assert json.loads(event["body"]) == {"action": "heartbeat", "requestId": "r1"}
    assert event["isBase64Encoded"] is False
    rc = event["requestContext"]
    assert rc["routeKey"] == "heartbeat"
    assert rc["eventType"] == "MESSAGE"
    assert rc["messageDirection"] == "IN"
    assert rc["stage"] == "test"
    assert rc["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "itest/1.0"}
    assert rc["domainName"] == f"127.0.0.1:{fake.port}"
    for key in ("messageId", "requestId", "extendedRequestId", "connectionId", "apiId"):
        assert isinstance(rc[key], str) and rc[key]
    assert isinstance(rc["connectedAt"], int) and isinstance(rc["requestTimeEpoch"], int)
    assert rc["requestTimeEpoch"] >= rc["connectedAt"]
    time.strptime(rc["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")
    # The authorizer's context, as API Gateway passes it: strings, plus principalId.
    auth = rc["authorizer"]
    assert auth["userId"] == "alice" and auth["tenantId"] == "acme"
    assert auth["tokenExp"] == "4102444800" and auth["admin"] == "false"
    assert auth["principalId"] == "alice"
    assert "integrationLatency" not in auth  # only the $connect event carries it
    # A Lambda context with the function's settings from the manifest.
    ctx = reply["context"]
    assert ctx["function_name"] == "local-heartbeat"
    assert ctx["memory_limit_in_mb"] == 128
    assert ctx["invoked_function_arn"].endswith(":function:local-heartbeat")
    assert 0 < ctx["remaining_ms"] <= 5000


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"action": "nope"}',
        '{"action": 5}',
        '{"action": "$disconnect"}',
        '{"no": "action"}',
    ],
)
async def test_unroutable_frames_go_to_default(fake: GatewayProcess, frame: str) -> None:
    async with connect(fake.url("allow:alice:acme")) as ws:
        reply = await request(ws, frame)
    assert reply["route"] == "$default"
    assert reply["event"]["body"] == frame
    assert reply["event"]["requestContext"]["routeKey"] == "$default"


async def test_a_binary_frame_closes_the_connection_with_1003(fake: GatewayProcess) -> None:
    async with await observer(fake) as obs:
        async with connect(fake.url("allow:bin:acme")) as ws:
            await ws.send(b"\x00\x01binary")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)  # no route ran: no reply, a close
        assert ws.close_code == 1003
        rc = (await next_disconnect(obs))["requestContext"]
        assert rc["authorizer"]["userId"] == "bin"
        assert rc["disconnectStatusCode"] == 1003


async def test_the_connect_event_is_shaped_like_api_gateways(fake: GatewayProcess) -> None:
    async with connect(fake.url("allow:ua:acme"), user_agent_header=None) as ws:
        reply = await request(ws, {"action": "heartbeat", "connectEvent": True})
    connect_rc = reply["connectEvent"]["requestContext"]
    message_rc = reply["event"]["requestContext"]
    latency = connect_rc["authorizer"]["integrationLatency"]
    assert isinstance(latency, int) and latency >= 0
    assert "integrationLatency" not in message_rc["authorizer"]
    # No User-Agent header: no userAgent key at all (not an empty string).
    assert connect_rc["identity"] == {"sourceIp": "127.0.0.1"}
    assert message_rc["identity"] == {"sourceIp": "127.0.0.1"}


@pytest.mark.parametrize("kind", ["connect", "message", "disconnect"])
async def test_events_have_the_captured_aws_shape(fake: GatewayProcess, kind: str) -> None:
    """The same keys, at every level, as the captured events in tools/fixtures/events."""
    captured = load_event(kind)
    async with await observer(fake) as obs:
        async with connect(fake.url("allow:shape:acme"), user_agent_header="itest/1.0") as ws:
            reply = await request(ws, {"action": "heartbeat", "connectEvent": True})
        gone = await next_disconnect(obs)
    local = {"connect": reply["connectEvent"], "message": reply["event"], "disconnect": gone}[kind]
    rc, captured_rc = local["requestContext"], captured["requestContext"]
    if kind != "connect":  # the captured connect event carries the client's headers/query
        assert set(local) == set(captured)
    assert set(rc) == set(captured_rc)
    assert set(rc["identity"]) == set(captured_rc["identity"])
    standard = {"principalId", "integrationLatency"}
    assert set(rc["authorizer"]) & standard == set(captured_rc["authorizer"]) & standard


async def test_every_manifest_route_is_routed(fake: GatewayProcess) -> None:
    async with connect(fake.url("allow:alice:acme")) as ws:
        for action in ("joinRoom", "leaveRoom", "heartbeat", "getPresence"):
            reply = await request(ws, {"action": action})
            assert reply["route"] == action
            assert reply["event"]["requestContext"]["routeKey"] == action


async def test_one_tenants_burst_never_holds_every_route_thread(fake: GatewayProcess) -> None:
    """8 invocations of one tenant hold their threads (the gateway has 8); another tenant's
    request is still answered at once, and the held ones finish once released."""
    busy = [await connect(fake.url(f"allow:b{i}:busy")) for i in range(8)]
    try:
        for ws in busy:
            await ws.send(json.dumps({"action": "heartbeat", "hold": True}))
        async with connect(fake.url("allow:calm:elsewhere")) as calm:
            reply = await request(calm, {"action": "heartbeat"})  # fails after 10 s if starved
            assert reply["route"] == "heartbeat"
            for ws in busy:  # none of the held invocations has finished
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.05)
            await request(calm, {"action": "heartbeat", "release": True})
        replies = [await recv_json(ws) for ws in busy]
        assert all(r["route"] == "heartbeat" for r in replies)
    finally:
        for ws in busy:
            await ws.close()


async def test_a_failing_two_way_route_answers_internal_server_error(
    fake: GatewayProcess,
) -> None:
    async with connect(fake.url("allow:alice:acme")) as ws:
        reply = await request(ws, {"action": "heartbeat", "explode": True})
        assert reply["message"] == "Internal server error"
        assert reply["connectionId"] and reply["requestId"]
        # The connection survives a failing invocation.
        assert (await request(ws, {"action": "heartbeat"}))["route"] == "heartbeat"


async def test_messages_of_one_connection_are_dispatched_in_order(fake: GatewayProcess) -> None:
    async with connect(fake.url("allow:alice:acme")) as ws:
        for seq in range(30):
            await ws.send(json.dumps({"action": "getPresence", "seq": seq}))
        seqs = [json.loads((await recv_json(ws))["event"]["body"])["seq"] for _ in range(30)]
    assert seqs == list(range(30))


# -- $disconnect -----------------------------------------------------------------------------


async def test_disconnect_fires_once_with_the_client_close_code(fake: GatewayProcess) -> None:
    async with await observer(fake) as obs:
        ws = await connect(fake.url("allow:bob:acme"))
        connection_id = (await request(ws, {"action": "heartbeat"}))["event"]["requestContext"][
            "connectionId"
        ]
        await ws.close(code=4000, reason="bye")
        event = await next_disconnect(obs, "bob", "carol")
        rc = event["requestContext"]
        assert rc["connectionId"] == connection_id
        assert rc["eventType"] == "DISCONNECT" and rc["routeKey"] == "$disconnect"
        assert rc["disconnectStatusCode"] == 4000 and rc["disconnectReason"] == "bye"
        assert rc["authorizer"]["userId"] == "bob"
        # Exactly once: the observer's next frame is about the next connection.
        other = await connect(fake.url("allow:carol:acme"))
        await other.close()
        event = await next_disconnect(obs, "bob", "carol")  # a second bob would fail here
        assert event["requestContext"]["authorizer"]["userId"] == "carol"


async def test_a_client_killed_without_close_frame_disconnects_with_1006(
    fake: GatewayProcess,
) -> None:
    async with await observer(fake) as obs:
        ws = await connect(fake.url("allow:dave:acme"))
        await request(ws, {"action": "heartbeat"})
        ws.transport.abort()  # no close frame, TCP reset
        rc = (await next_disconnect(obs, "dave"))["requestContext"]
        assert rc["authorizer"]["userId"] == "dave"
        assert rc["disconnectStatusCode"] == 1006


async def test_message_over_128_kb_closes_with_1009(fake: GatewayProcess) -> None:
    async with await observer(fake) as obs:
        async with connect(fake.url("allow:erin:acme"), max_size=None) as ws:
            at_limit = json.dumps({"action": "heartbeat", "pad": ""})
            at_limit = at_limit.replace('""', '"' + "x" * (128 * 1024 - len(at_limit)) + '"')
            assert len(at_limit) == 128 * 1024
            assert (await request(ws, at_limit))["route"] == "heartbeat"
            await ws.send("y" * (128 * 1024 + 1))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 1009
        rc = (await next_disconnect(obs))["requestContext"]
        assert rc["authorizer"]["userId"] == "erin"
        assert rc["disconnectStatusCode"] == 1009


# -- management API (@connections) -----------------------------------------------------------


async def test_management_api_get_post_delete(fake: GatewayProcess) -> None:
    client = fake.management()
    async with await observer(fake) as obs:
        ws = await connect(fake.url("allow:frank:acme"), user_agent_header="ua/2")
        connection_id = (await request(ws, {"action": "heartbeat"}))["event"]["requestContext"][
            "connectionId"
        ]
        info = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
        assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "ua/2"}
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        # On the wire: API Gateway's JSON names and ISO 8601 timestamps.
        status, raw = fake.request("GET", f"/{fake.stage}/@connections/{connection_id}")
        assert status == 200
        assert set(raw) == {"connectedAt", "identity", "lastActiveAt"}
        assert raw["connectedAt"].endswith("Z") and "T" in raw["connectedAt"]

        payload = json.dumps({"hello": "é"}).encode()
        await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=payload)
        assert await asyncio.wait_for(ws.recv(), 10) == payload.decode()

        await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1000
        rc = (await next_disconnect(obs))["requestContext"]
        assert rc["connectionId"] == connection_id and rc["disconnectStatusCode"] == 1000

        for call in (
            lambda: client.get_connection(ConnectionId=connection_id),
            lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"x"),
            lambda: client.delete_connection(ConnectionId=connection_id),
        ):
            with pytest.raises(client.exceptions.GoneException):
                await asyncio.to_thread(call)


async def test_handlers_post_through_the_management_api(fake: GatewayProcess) -> None:
    async with (
        connect(fake.url("allow:gina:acme")) as sender,
        connect(fake.url("allow:hugo:acme")) as target,
    ):
        target_id = (await request(target, {"action": "heartbeat"}))["event"]["requestContext"][
            "connectionId"
        ]
        reply = await request(sender, {"action": "sendMessage", "to": target_id, "data": {"n": 1}})
        assert reply == {"outcome": "ok"}
        assert await recv_json(target) == {"n": 1}
        await target.close()
        reply = await request(sender, {"action": "sendMessage", "to": target_id, "data": 2})
        assert reply == {"outcome": "GoneException"}


async def test_post_over_128_kb_is_payload_too_large(fake: GatewayProcess) -> None:
    client = fake.management()
    async with connect(fake.url("allow:ivan:acme")) as ws:
        connection_id = (await request(ws, {"action": "heartbeat"}))["event"]["requestContext"][
            "connectionId"
        ]
        with pytest.raises(client.exceptions.PayloadTooLargeException):
            await asyncio.to_thread(
                client.post_to_connection, ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1)
            )


# -- embedded AWS: SQS pollers, stream filter, TTL sweeper ---------------------------------


async def test_sqs_consumer_gets_batches_and_failures_are_retried(fake: GatewayProcess) -> None:
    async with (
        connect(fake.url("allow:jane:acme")) as sender,
        connect(fake.url("allow:karl:acme")) as target,
    ):
        target_id = (await request(target, {"action": "heartbeat"}))["event"]["requestContext"][
            "connectionId"
        ]
        jobs = [{"to": target_id, "data": "ok"}, {"to": target_id, "data": "retry", "fail": True}]
        assert await request(sender, {"action": "sendMessage", "queue": jobs}) == {"queued": 2}
        first = await recv_json(target)
        assert first == {"data": "ok", "receiveCount": "1", "eventSource": "aws:sqs"}
    sqs = fake.aws("sqs")
    queue_url = fake.health["queues"]["fanout"]
    dlq_url = fake.health["queues"]["fanout-dlq"]

    def in_dlq() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
        return bool(attrs["ApproximateNumberOfMessages"] == "1")

    # The failing job is retried (visibility 1 s) until maxReceiveCount, then dead-lettered;
    # the successful one was deleted and never comes back.
    await asyncio.to_thread(eventually, in_dlq, 20.0, 0.2)
    body = sqs.receive_message(QueueUrl=dlq_url)["Messages"][0]["Body"]
    assert json.loads(body)["data"] == "retry"
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


async def test_ttl_sweeper_feeds_only_ttl_removals_to_the_stream_consumer(
    fake: GatewayProcess,
) -> None:
    ddb = fake.aws("dynamodb")
    table = fake.health["tableName"]
    now = int(time.time())

    def put(pk: str, expires: int | None) -> None:
        item = {"PK": {"S": pk}, "SK": {"S": "META"}, "type": {"S": "connection"}}
        if expires is not None:
            item["expiresAt"] = {"N": str(expires)}
        ddb.put_item(TableName=table, Item=item)

    async with await observer(fake) as obs:
        put("TEST#expired", now - 5)
        put("TEST#alive", now + 3600)
        put("TEST#user-deleted", None)
        ddb.delete_item(
            TableName=table, Key={"PK": {"S": "TEST#user-deleted"}, "SK": {"S": "META"}}
        )
        frame = await recv_json(obs)
    assert frame["type"] == "stream"
    (record,) = frame["records"]
    assert record["eventName"] == "REMOVE"
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert record["dynamodb"]["Keys"]["PK"] == {"S": "TEST#expired"}
    assert record["dynamodb"]["OldImage"]["expiresAt"] == {"N": str(now - 5)}
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"].startswith("arn:aws:dynamodb:")
    alive = ddb.get_item(TableName=table, Key={"PK": {"S": "TEST#alive"}, "SK": {"S": "META"}})
    assert "Item" in alive


# -- dev endpoints ---------------------------------------------------------------------------


async def test_dev_publish_invokes_the_publish_function(fake: GatewayProcess) -> None:
    async with connect(fake.url("allow:lena:globex")) as ws:
        await request(ws, {"action": "heartbeat"})  # registered by the fake $connect
        status, result = fake.request(
            "POST",
            f"/{fake.stage}/_dev/publish",
            json.dumps({"tenantId": "globex", "data": 7}).encode(),
        )
        assert (status, result) == (200, {"ok": True, "targets": 1})
        assert await recv_json(ws) == {"type": "event", "data": 7}
    status, result = fake.request("POST", f"/{fake.stage}/_dev/publish", b"{not json")
    assert status == 400
    status, result = fake.request("POST", f"/{fake.stage}/_dev/publish", b"{}")
    assert status == 502
    assert result["errorType"] == "ValueError"


async def test_dev_token_mints_a_dev_jwt(fake: GatewayProcess) -> None:
    result = fake.get_json("/_dev/token?user=zoe&tenant=acme&rooms=lobby,team-*")
    claims = jwt.decode(result["token"], DEV_SECRET, algorithms=["HS256"], audience=DEV_AUDIENCE)
    assert (claims["sub"], claims["tenant_id"], claims["rooms"]) == (
        "zoe",
        "acme",
        ["lobby", "team-*"],
    )
    assert result["url"] == f"{fake.ws_url}?token={result['token']}"
    status, _ = fake.request("GET", "/_dev/token?user=zoe")
    assert status == 400


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("user=zoe&tenant=bad%20tenant!", "tenant 'bad tenant!'"),
        (f"user={'u' * 200}&tenant=acme", "(200 characters)"),
        ("user=a%23b&tenant=acme", "user 'a#b'"),
        ("user=%C3%A9&tenant=t%2Fx", "user 'é' and tenant 't/x'"),
    ],
)
async def test_dev_token_refuses_ids_the_authorizer_would_refuse(
    fake: GatewayProcess, query: str, refused: str
) -> None:
    status, body = fake.request("GET", f"/_dev/token?{query}")
    assert status == 400
    assert refused in body["message"]
    assert "1-128 characters of A-Z a-z 0-9 . _ : @ | + = ~ -" in body["message"]
    assert "token" not in body


def run_make_publish(gw: GatewayProcess | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PORT": str(gw.port if gw else free_port()),
        "STAGE": gw.stage if gw else "dev",
    }
    return subprocess.run(
        ["make", "-s", "publish", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_make_publish_prints_one_line(fake: GatewayProcess) -> None:
    async with connect(fake.url("allow:mia:initech")) as ws:
        await request(ws, {"action": "heartbeat"})
        done = await asyncio.to_thread(
            run_make_publish,
            fake,
            "TENANT=initech",
            "ROOM=lobby",
            "EVENT=alert",
            'DATA={"level": "high"}',
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ['{"ok":true,"targets":1}']
        assert await recv_json(ws) == {"type": "event", "data": {"level": "high"}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("TENANT=a", "ROOM=r", "EVENT=e", "DATA={bad"), "DATA is not valid JSON"),
        (("TENANT=a", "EVENT=e", "DATA=1"), "exactly one target"),
        (("TENANT=a", "ROOM=r", "ALL=1", "EVENT=e", "DATA=1"), "exactly one target"),
    ],
)
async def test_make_publish_rejects_bad_input(
    fake: GatewayProcess, args: tuple[str, ...], message: str
) -> None:
    done = await asyncio.to_thread(run_make_publish, fake, *args)
    assert done.returncode != 0
    assert message in done.stderr and not done.stdout


def banner_hint(gw: GatewayProcess, label: str) -> str:
    """The command the `make dev` banner prints after `label:`."""
    line = next(line for line in gw.lines if line.startswith(f"  {label}:"))
    return line.split(":", 1)[1].strip()


async def test_the_banner_hints_reach_this_gateway_from_a_fresh_shell(fake: GatewayProcess) -> None:
    # The gateway runs on a random port and stage "test": every hint must say so.
    fresh_shell = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "STAGE")}
    tokens = banner_hint(fake, "tokens").split(" [ROOMS=")[0]
    publish = banner_hint(fake, "publish")
    assert tokens.startswith(f"PORT={fake.port} STAGE=test make -s token ")
    assert publish.startswith(f"PORT={fake.port} STAGE=test make -s publish ")
    assert f"--url {fake.ws_url} " in banner_hint(fake, "cli")
    assert banner_hint(fake, "demo page").split()[0] == f"{fake.base_url}/"

    def shell(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            env=fresh_shell,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    minted = await asyncio.to_thread(shell, tokens)
    assert minted.returncode == 0, minted.stderr
    claims = jwt.decode(minted.stdout.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["tenant_id"]) == ("bob", "acme")
    async with connect(fake.url("allow:ann:acme")) as ws:
        await request(ws, {"action": "heartbeat"})
        done = await asyncio.to_thread(shell, publish)
        assert done.returncode == 0, done.stderr
        assert await recv_json(ws) == {"type": "event", "data": {"n": 1}}
    with urllib.request.urlopen(f"{fake.base_url}/", timeout=10) as page:
        assert page.status == 200
        assert b"<html" in page.read()


async def test_make_publish_without_a_gateway_says_so() -> None:
    done = await asyncio.to_thread(run_make_publish, None, "TENANT=a", "ALL=1", "EVENT=e", "DATA=1")
    assert done.returncode != 0
    port = re.search(r"no local gateway at http://127.0.0.1:(\d+) ", done.stderr)
    assert port, done.stderr
    assert f"start it with `PORT={port[1]} make dev`" in done.stderr
