"""The Python client against a real WebSocket server that speaks protocol v1 (fake gateway)."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

# isort: split
# (wsclient is first-party once clients/python is in ruff's src; the split keeps both orders)
from wsclient import (
    DEFAULT_HEARTBEAT_INTERVAL_S,
    MAX_HEARTBEAT_INTERVAL_S,
    PROTOCOL_ERROR_CODES,
    ClientError,
    WsClient,
    backoff_delay,
    is_terminal_close_code,
    with_token,
)
from wsclient.tokens import jwt_expiry, refresh_time

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.clients.fake_protocol_server import FakeGateway

WAIT_S = 5.0


class Recorder:
    """Collects what a client reports, and stands in for asyncio.sleep in the backoff."""

    def __init__(self, client: WsClient) -> None:
        self.states: list[dict[str, Any]] = []
        self.errors: list[Exception] = []
        self.delays: list[float] = []
        client.on("state", self.states.append)
        client.on("error", self.errors.append)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)  # yield, as a real sleep would


_CLIENTS: list[WsClient] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    """Close every client a test made, even when it failed, so none keeps reconnecting."""
    yield
    while _CLIENTS:
        await _CLIENTS.pop().close()


def make_client(gateway: FakeGateway, **options: Any) -> tuple[WsClient, Recorder]:
    """A client on the gateway whose backoff sleeps are recorded, not waited."""
    holder: dict[str, Recorder] = {}

    async def sleep(delay: float) -> None:
        await holder["rec"].sleep(delay)

    options.setdefault("token", "tok")
    options.setdefault("random", lambda: 0.5)
    client = WsClient(gateway.url, options.pop("token"), sleep=sleep, **options)
    _CLIENTS.append(client)
    holder["rec"] = Recorder(client)
    return client, holder["rec"]


async def until(predicate: Any) -> None:
    """Wait for a condition driven by the event loop (never a fixed sleep)."""
    async with asyncio.timeout(WAIT_S):
        while not predicate():
            await asyncio.sleep(0)


# ---- connect and token ----------------------------------------------------------------------


def test_with_token_sets_the_query_parameter() -> None:
    url = with_token("ws://h:1/dev?x=1&token=old", "a b&c")
    assert parse_qs(urlsplit(url).query) == {"x": ["1"], "token": ["a b&c"]}


async def test_connect_puts_the_token_in_the_query_string(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway, token="t/+&=")
    async with client:
        assert client.state == "open"
        assert gateway.tokens == ["t/+&="]
    assert [s["state"] for s in rec.states] == ["connecting", "open", "closed"]


async def test_token_function_is_called_on_every_connect(gateway: FakeGateway) -> None:
    calls = 0

    async def fresh_token() -> str:
        nonlocal calls
        calls += 1
        return f"t{calls}"

    client, _ = make_client(gateway, token=fresh_token)
    async with client:
        await gateway.drop(1001)
        await gateway.next_open()
        await gateway.next_open()
        assert gateway.tokens == ["t1", "t2"]


def test_options_are_validated() -> None:
    with pytest.raises(TypeError):
        WsClient("ws://x", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backoff_cap"):
        WsClient("ws://x", "t", backoff_base=10, backoff_cap=1)
    for url in ("http://host/dev", "ws://[bad", "ws:///dev", "ws://host:99999/dev"):
        with pytest.raises(ValueError, match="url"):
            WsClient(url, "t")


# ---- requests -------------------------------------------------------------------------------


async def test_replies_are_correlated_by_request_id_out_of_order(gateway: FakeGateway) -> None:
    gateway.held = {"joinRoom", "sendMessage"}
    client, _ = make_client(gateway)
    async with client:
        join = asyncio.create_task(client.join_room("lobby"))
        send = asyncio.create_task(client.send_message("lobby", {"text": "hi"}))
        _, join_frame = await gateway.next_frame("joinRoom")
        _, send_frame = await gateway.next_frame("sendMessage")
        assert join_frame["requestId"] != send_frame["requestId"]
        assert send_frame["data"] == {"text": "hi"}
        await gateway.reply(send_frame, messageId="m-late")
        await gateway.reply(join_frame, members=[{"userId": "zoe"}])
        assert (await send)["messageId"] == "m-late"
        assert (await join)["members"] == [{"userId": "zoe"}]


async def test_request_ids_are_unique(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway)
    async with client:
        acks = await asyncio.gather(*(client.heartbeat() for _ in range(30)))
    assert len({ack["requestId"] for ack in acks}) == 30


async def test_get_presence_with_and_without_room(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway)
    async with client:
        ack = await client.get_presence()
        _, tenant_frame = await gateway.next_frame("getPresence")
        await client.get_presence("r1")
        _, room_frame = await gateway.next_frame("getPresence")
    assert ack["users"] == [{"userId": "alice"}, {"userId": "bob"}]
    assert "roomId" not in tenant_frame
    assert room_frame["roomId"] == "r1"


@pytest.mark.parametrize("code", PROTOCOL_ERROR_CODES)
async def test_error_frames_raise_with_the_protocol_code(gateway: FakeGateway, code: str) -> None:
    gateway.errors = {"sendMessage": code}
    client, _ = make_client(gateway)
    async with client:
        with pytest.raises(ClientError) as caught:
            await client.send_message("lobby", 1)
    assert caught.value.code == code
    assert caught.value.frame is not None
    assert caught.value.frame["type"] == "error"


async def test_unanswered_request_times_out_and_the_late_reply_is_ignored(
    gateway: FakeGateway,
) -> None:
    gateway.held = {"heartbeat"}
    client, rec = make_client(gateway, request_timeout=0.05)
    async with client:
        with pytest.raises(ClientError) as caught:
            await client.heartbeat()
        assert caught.value.code == "timeout"
        _, frame = await gateway.next_frame("heartbeat")
        await gateway.reply(frame)
        assert (await client.get_presence())["type"] == "ack"  # still usable
        assert client.state == "open"
    assert rec.errors == []


async def test_pending_requests_fail_with_disconnected_when_the_socket_drops(
    gateway: FakeGateway,
) -> None:
    gateway.silent = {"heartbeat"}
    client, _ = make_client(gateway)
    async with client:
        pending = asyncio.create_task(client.heartbeat())
        await gateway.next_frame("heartbeat")
        gateway.abort()
        with pytest.raises(ClientError) as caught:
            await pending
    assert caught.value.code == "disconnected"


async def test_unserialisable_data_is_refused_without_sending(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway)
    async with client:
        with pytest.raises(ClientError) as caught:
            await client.send_message("lobby", {1, 2})
        assert caught.value.code == "invalid_request"
        await client.heartbeat()
    assert (await gateway.next_frame())[1]["action"] == "heartbeat"


async def test_request_when_not_connected_fails_fast() -> None:
    client = WsClient("ws://127.0.0.1:9/dev", "t")
    with pytest.raises(ClientError) as caught:
        await client.heartbeat()
    assert caught.value.code == "disconnected"


async def test_oversized_frames_are_refused_before_sending(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway, max_message_bytes=1024)
    async with client:
        with pytest.raises(ClientError) as caught:
            await client.send_message("lobby", "é" * 600)
        assert caught.value.code == "payload_too_large"
        await client.heartbeat()
    _, frame = await gateway.next_frame()
    assert frame["action"] == "heartbeat"


# ---- reconnect, backoff, terminal codes -----------------------------------------------------


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_full_jitter_within_bounds(attempt: int) -> None:
    ceiling = min(30.0, 0.5 * 2**attempt)
    assert backoff_delay(attempt, 0.5, 30.0, lambda: 0.0) == 0.0
    assert backoff_delay(attempt, 0.5, 30.0, lambda: 0.5) == ceiling / 2
    assert ceiling * 0.99 < backoff_delay(attempt, 0.5, 30.0, lambda: 0.999999) < ceiling
    assert 0 <= backoff_delay(attempt, 0.5, 30.0) < ceiling
    assert backoff_delay(10_000, 0.5, 30.0, lambda: 0.5) == 15.0


async def test_backoff_grows_to_the_cap_then_gives_up(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway, backoff_base=0.1, backoff_cap=0.4, max_reconnect_attempts=4)
    await client.connect()
    gateway.reject_status = 503
    await gateway.drop(1011)
    info = await asyncio.wait_for(client.wait_closed(), WAIT_S)
    assert rec.delays == pytest.approx([0.05, 0.1, 0.2, 0.2])
    assert info["gave_up"] is True
    assert client.state == "closed"
    assert [s["attempt"] for s in rec.states if s["state"] == "reconnecting"] == [1, 2, 3, 4]


async def test_attempts_reset_after_a_successful_reconnect(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway, backoff_base=0.1, backoff_cap=10)
    async with client:
        await gateway.next_open()
        for _ in range(3):
            await gateway.drop(1001)
            await gateway.next_open()
            await until(lambda: client.state == "open")
    assert rec.delays == pytest.approx([0.05, 0.05, 0.05])


@pytest.mark.parametrize("code", [1000, 1001, 1011, 1009])
async def test_non_terminal_close_codes_reconnect(gateway: FakeGateway, code: int) -> None:
    client, rec = make_client(gateway)
    async with client:
        await gateway.drop(code)
        await gateway.next_open()
        await gateway.next_open()
        await until(lambda: client.state == "open")
    reconnecting = [s for s in rec.states if s["state"] == "reconnecting"]
    assert [s["code"] for s in reconnecting] == [code]


async def test_network_loss_reconnects(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway)
    async with client:
        await gateway.next_open()
        gateway.abort()
        await gateway.next_open()
    assert [s["code"] for s in rec.states if s["state"] == "reconnecting"] == [1006]


@pytest.mark.parametrize("code", [1008, 4001, 4003, 4999])
async def test_terminal_close_codes_stop_reconnecting(gateway: FakeGateway, code: int) -> None:
    client, rec = make_client(gateway)
    await client.connect()
    await gateway.drop(code, "unauthorized")
    info = await asyncio.wait_for(client.wait_closed(), WAIT_S)
    assert info["terminal"] is True
    assert info["code"] == code
    assert rec.delays == []
    assert len(gateway.connections) == 1
    assert isinstance(rec.errors[-1], ClientError)
    assert rec.errors[-1].close_code == code
    assert not is_terminal_close_code(1000)


@pytest.mark.parametrize("status", [401, 403])
async def test_handshake_auth_rejection_is_terminal(gateway: FakeGateway, status: int) -> None:
    gateway.reject_status = status
    client, rec = make_client(gateway)
    with pytest.raises(ClientError) as caught:
        await client.connect()
    assert caught.value.code == "handshake_rejected"
    assert caught.value.status == status
    assert rec.delays == []
    assert "tok" not in str(caught.value)


async def test_first_connect_retries_a_server_error(gateway: FakeGateway) -> None:
    gateway.reject_status = 503
    client, rec = make_client(gateway)

    def heal(change: dict[str, Any]) -> None:
        if change["state"] == "reconnecting":
            gateway.reject_status = None

    client.on("state", heal)
    async with client:
        assert client.state == "open"
    assert len(rec.delays) == 1


async def test_failing_token_provider_counts_as_a_failed_attempt(gateway: FakeGateway) -> None:
    calls = 0

    def token() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("secret detail")
        return "ok"

    client, rec = make_client(gateway, token=token)
    async with client:
        assert gateway.tokens == ["ok"]
    assert isinstance(rec.errors[0], ClientError)
    assert rec.errors[0].code == "token_error"
    assert "secret detail" not in str(rec.errors[0])


async def test_close_never_reconnects_and_sends_1000(gateway: FakeGateway) -> None:
    gateway.silent = {"heartbeat"}
    client, rec = make_client(gateway)
    await client.connect()
    pending = asyncio.create_task(client.heartbeat())
    await gateway.next_frame("heartbeat")
    await client.close()
    assert (await gateway.next_close())[1] == 1000
    with pytest.raises(ClientError) as caught:
        await pending
    assert caught.value.code == "disconnected"
    assert client.state == "closed"
    assert rec.states[-1]["by_user"] is True
    assert rec.delays == []
    assert len(gateway.connections) == 1


async def test_close_during_backoff_cancels_the_reconnect(gateway: FakeGateway) -> None:
    client = WsClient(gateway.url, "tok", backoff_base=60, backoff_cap=60, random=lambda: 1.0)
    _CLIENTS.append(client)
    await client.connect()
    await gateway.drop(1001)
    await until(lambda: client.state == "reconnecting")
    await client.close()
    assert client.state == "closed"
    assert len(gateway.connections) == 1


async def test_state_transitions_in_order(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway)
    async with client:
        await gateway.drop(1001)
        await gateway.next_open()
        await gateway.next_open()
        await until(lambda: client.state == "open")
    assert [f"{s['previous']}->{s['state']}" for s in rec.states] == [
        "closed->connecting",
        "connecting->open",
        "open->reconnecting",
        "reconnecting->open",
        "open->closed",
    ]


# ---- rooms ----------------------------------------------------------------------------------


async def test_remembered_rooms_are_rejoined_after_a_reconnect(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway)
    rejoined: list[str] = []
    client.on("rejoin", lambda ack: rejoined.append(ack["roomId"]))
    async with client:
        for room in ("a", "b", "c"):
            await client.join_room(room)
        await client.leave_room("b")
        assert client.rooms == ["a", "c"]
        await gateway.drop(1001)
        rooms = [(await gateway.next_frame("joinRoom"))[1]["roomId"] for _ in range(5)]
        await until(lambda: len(rejoined) == 2)
    assert rooms == ["a", "b", "c", "a", "c"]
    assert rejoined == ["a", "c"]


async def test_refused_join_is_not_remembered(gateway: FakeGateway) -> None:
    gateway.errors = {"joinRoom": "forbidden"}
    client, _ = make_client(gateway)
    async with client:
        with pytest.raises(ClientError):
            await client.join_room("secret")
        assert client.rooms == []


async def test_refused_rejoin_forgets_the_room(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway)
    async with client:
        await client.join_room("r")
        gateway.errors = {"joinRoom": "forbidden"}
        await gateway.drop(1001)
        await until(lambda: rec.errors)
        assert client.rooms == []
    error = rec.errors[0]
    assert isinstance(error, ClientError)
    assert (error.code, error.room_id) == ("forbidden", "r")


# ---- heartbeat ------------------------------------------------------------------------------


def test_heartbeat_default_and_validation() -> None:
    assert DEFAULT_HEARTBEAT_INTERVAL_S == 300
    assert WsClient("ws://x", "t").heartbeat_interval == 300
    assert MAX_HEARTBEAT_INTERVAL_S <= 480
    for bad in (600, MAX_HEARTBEAT_INTERVAL_S + 1, 0, -1):
        with pytest.raises(ValueError, match="heartbeat_interval"):
            WsClient("ws://x", "t", heartbeat_interval=bad)


async def test_heartbeats_are_sent_on_the_interval(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway, heartbeat_interval=0.02)
    async with client:
        for _ in range(3):
            _, frame = await gateway.next_frame("heartbeat")
            assert set(frame) == {"action", "requestId"}


async def test_unanswered_heartbeat_drops_and_reconnects(gateway: FakeGateway) -> None:
    gateway.silent = {"heartbeat"}
    client, rec = make_client(gateway, heartbeat_interval=0.02, request_timeout=0.05)
    async with client:
        await gateway.next_open()
        await gateway.next_open()
    assert next(s["code"] for s in rec.states if s["state"] == "reconnecting") == 1006


# ---- events ---------------------------------------------------------------------------------

MESSAGE = {
    "type": "message",
    "roomId": "r",
    "messageId": "m",
    "from": {"userId": "bob"},
    "data": {"x": 1},
    "sentAt": "2026-01-01T00:00:00Z",
}
PRESENCE = {"type": "presence", "roomId": "r", "event": "join", "userId": "bob"}
EVENT = {"type": "event", "target": {"roomId": "r"}, "event": "tick", "data": 42}


async def test_events_reach_callbacks_and_the_async_iterator(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway)
    seen: list[tuple[str, dict[str, Any]]] = []
    for kind in ("message", "presence", "event"):
        client.on(kind, functools.partial(lambda k, f: seen.append((k, f)), kind))
    async with client:
        stream = client.events()  # buffers from here, before anything is iterated
        for frame in (MESSAGE, PRESENCE, {"type": "future-thing"}, EVENT):
            await gateway.push(frame)
        await until(lambda: len(seen) == 3)
    iterated = [frame async for frame in stream]  # ends because the client closed
    assert seen == [("message", MESSAGE), ("presence", PRESENCE), ("event", EVENT)]
    assert iterated == [MESSAGE, PRESENCE, EVENT]


async def test_events_iterator_filters_types(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway)
    async with client:
        stream = client.events("presence")
        await gateway.push(MESSAGE)
        await gateway.push(PRESENCE)
        assert await asyncio.wait_for(anext(stream), WAIT_S) == PRESENCE
        stream.close()
        await gateway.push(PRESENCE)
        await client.heartbeat()
    assert stream._queue.empty()


async def test_events_of_a_closed_client_end_at_once() -> None:
    client = WsClient("ws://127.0.0.1:9/dev", "t")
    assert [frame async for frame in client.events()] == []


async def test_off_unsubscribes_and_unknown_types_are_refused(gateway: FakeGateway) -> None:
    client, _ = make_client(gateway)
    a: list[Any] = []
    b: list[Any] = []
    client.on("presence", a.append)
    unsubscribe = client.on("presence", b.append)
    with pytest.raises(ValueError, match="unknown event type"):
        client.on("mesage", print)
    async with client:
        await gateway.push(PRESENCE)
        await until(lambda: a)
        client.off("presence", a.append)
        unsubscribe()
        await gateway.push(PRESENCE)
        await client.heartbeat()  # the push was handled before this ack
    assert (len(a), len(b)) == (1, 1)


async def test_unmatched_errors_and_garbage_go_to_error_listeners(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway)
    async with client:
        await gateway.connections[-1].send("not json")
        await gateway.push(
            {"type": "error", "action": None, "requestId": None, "code": "invalid_json"}
        )
        await until(lambda: len(rec.errors) == 2)
    assert [getattr(e, "code", None) for e in rec.errors] == ["invalid_frame", "invalid_json"]


async def test_a_raising_listener_does_not_break_the_client(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway)
    later: list[Any] = []

    def broken(frame: dict[str, Any]) -> None:
        raise RuntimeError("listener bug")

    client.on("message", broken)
    client.on("message", later.append)
    async with client:
        await gateway.push(MESSAGE)
        await until(lambda: later)
        assert (await client.heartbeat())["type"] == "ack"
    assert str(rec.errors[0]) == "listener bug"


def test_events_refuses_types_that_are_not_server_frames() -> None:
    from wsclient import WsClient

    client = WsClient("ws://127.0.0.1:9/dev", token="t")
    with pytest.raises(ValueError, match="use on\\(\\)"):
        client.events("rejoin")
    with pytest.raises(ValueError, match="use on\\(\\)"):
        client.events("message", "state")


# ---- delivery continuity (protocol v1.1) ----------------------------------------------------

LONG_WAIT = 60.0  # a gap wait no test reaches: a gap then stays held unless frames close it
SHORT_WAIT = 0.01  # a gap wait that ends at once: the gap goes to history


class Delivered:
    """What the application receives, in order: seqs (None: unnumbered) and gaps."""

    def __init__(self, client: WsClient) -> None:
        self.frames: list[dict[str, Any]] = []
        for kind in ("message", "event", "discontinuity"):
            client.on(kind, self.frames.append)

    @property
    def log(self) -> list[Any]:
        return [
            ("gap", f["fromSeq"], f["toSeq"]) if f["type"] == "discontinuity" else f.get("seq")
            for f in self.frames
        ]


def v11_client(gateway: FakeGateway, **options: Any) -> tuple[WsClient, Recorder, Delivered]:
    gateway.v11 = True
    options.setdefault("gap_wait", LONG_WAIT)
    client, rec = make_client(gateway, **options)
    return client, rec, Delivered(client)


def rejoin_acks(client: WsClient) -> list[dict[str, Any]]:
    """A list that fills with the client's rejoin acks (a rejoin has been handled)."""
    acks: list[dict[str, Any]] = []
    client.on("rejoin", acks.append)
    return acks


async def test_a_live_gap_is_filled_from_history_in_order(gateway: FakeGateway) -> None:
    client, rec, got = v11_client(gateway, gap_wait=SHORT_WAIT)
    async with client:
        await client.join_room("r")
        sent = [gateway.publish("r", kind="event" if n == 2 else "message") for n in range(5)]
        await gateway.push(sent[0])
        await gateway.push(sent[4])  # 2, 3 and 4 were lost on the way
        await until(lambda: len(got.frames) == 5)
        await gateway.push(sent[2])  # a late copy of 3, which history gave
        await client.heartbeat()
    assert got.log == [1, 2, 3, 4, 5]
    assert got.frames[2]["type"] == "event"  # room-targeted events are numbered too
    assert [(r["roomId"], r["afterSeq"]) for r in gateway.requests("getHistory")] == [("r", 1)]
    assert rec.errors == []


async def test_duplicates_are_dropped(gateway: FakeGateway) -> None:
    client, _, got = v11_client(gateway)
    ephemeral = {"type": "message", "roomId": "r", "messageId": "e-1", "data": 0}
    async with client:
        await client.join_room("r")
        one, two = gateway.publish("r"), gateway.publish("r")
        for frame in (one, one, two, ephemeral, one, two, ephemeral):
            await gateway.push(frame)
        await client.heartbeat()  # every push above was handled before this ack
    assert got.log == [1, 2, None]
    assert gateway.requests("getHistory") == []


async def test_out_of_order_live_frames_are_reordered_within_the_wait(
    gateway: FakeGateway,
) -> None:
    client, _, got = v11_client(gateway)
    async with client:
        await client.join_room("r")
        sent = [gateway.publish("r") for _ in range(4)]
        for frame in (sent[2], sent[1], sent[3]):
            await gateway.push(frame)
        await client.heartbeat()
        assert got.log == []  # held: 1 is missing
        await gateway.push(sent[0])
        await client.heartbeat()
    assert got.log == [1, 2, 3, 4]
    assert gateway.requests("getHistory") == []


async def test_resume_delivers_missed_history_before_newer_live_frames(
    gateway: FakeGateway,
) -> None:
    client, _, got = v11_client(gateway)
    async with client:
        await client.join_room("r")
        await gateway.push(gateway.publish("r"))
        await until(lambda: got.log == [1])
        missed = [gateway.publish("r"), gateway.publish("r")]  # sent while we are away
        gateway.held = {"getHistory"}
        await gateway.drop(1001)
        _, request = await gateway.next_frame("getHistory")  # after the rejoin
        assert request["afterSeq"] == 1
        await gateway.push(gateway.publish("r"))  # 4, live, before history answers
        await client.heartbeat()
        assert got.log == [1]  # 4 waits for 2 and 3
        await gateway.reply(request, messages=missed, latestSeq=3, hasMore=False)
        await until(lambda: len(got.log) == 4)
    assert got.log == [1, 2, 3, 4]


async def test_history_is_paged_until_has_more_is_false(gateway: FakeGateway) -> None:
    gateway.page_size = 2
    client, _, got = v11_client(gateway)
    async with client:
        await client.join_room("r")
        for _ in range(5):
            gateway.publish("r")  # stored, never pushed: all missed
        await gateway.drop(1001)
        await until(lambda: len(got.log) == 5)
    assert got.log == [1, 2, 3, 4, 5]
    assert [r["afterSeq"] for r in gateway.requests("getHistory")] == [0, 2, 4]
    assert {r["limit"] for r in gateway.requests("getHistory")} == {100}


async def test_a_page_without_progress_is_asked_again_after_growing_pauses(
    gateway: FakeGateway,
) -> None:
    client, rec, got = v11_client(gateway, backoff_base=0.1)
    empty = {"messages": [], "hasMore": True}  # a message is still being written
    throttled = {"type": "error", "code": "rate_limited", "retryAfterMs": 700}
    gateway.scripted = {"getHistory": [empty, throttled, empty]}
    async with client:
        await client.join_room("r")
        gateway.publish("r")
        gateway.publish("r")
        await gateway.drop(1001)
        await until(lambda: len(got.log) == 2)
    assert got.log == [1, 2]
    # The reconnect backoff, then the pauses; rate_limited also holds getHistory for 0.7 s
    # (the wait recorded before the pause that honours the same retryAfterMs).
    assert rec.delays == pytest.approx([0.05, 0.25, 0.7, 0.7, 1.0])
    assert len(gateway.requests("getHistory")) == 4
    assert rec.errors == []


async def test_skipped_seqs_after_a_reconnect_are_not_reported(gateway: FakeGateway) -> None:
    client, _, got = v11_client(gateway)
    async with client:
        await client.join_room("r")
        gateway.publish("r")
        gateway.publish("r", store=False)  # 2: allocated, never stored
        gateway.publish("r")
        gateway.publish("r", store=False)  # 4, the latest seq: skipped too
        await gateway.drop(1001)
        await until(lambda: len(got.log) == 2)  # and 4 passed, in the same step
        await gateway.push(gateway.publish("r"))  # 5 follows 4: no gap to wait for
        await client.heartbeat()
    assert got.log == [1, 3, 5]
    assert len(gateway.requests("getHistory")) == 1


async def test_a_skipped_seq_in_a_live_gap_is_not_reported(gateway: FakeGateway) -> None:
    client, _, got = v11_client(gateway, gap_wait=SHORT_WAIT)
    async with client:
        await client.join_room("r")
        await gateway.push(gateway.publish("r"))
        gateway.publish("r", store=False)
        await gateway.push(gateway.publish("r"))
        await until(lambda: len(gateway.requests("getHistory")) == 1 and len(got.log) == 2)
    assert got.log == [1, 3]


async def test_expired_history_is_reported_once_as_a_discontinuity(gateway: FakeGateway) -> None:
    client, rec, got = v11_client(gateway)
    acks = rejoin_acks(client)
    async with client:
        gaps = client.events("discontinuity")
        default = client.events()
        await client.join_room("r")
        await gateway.push(gateway.publish("r"))
        for _ in range(9):
            gateway.publish("r")  # 2..10, missed
        gateway.earliest["r"] = 6  # 2..5 have expired
        await gateway.drop(1001)
        await until(lambda: len(got.log) == 7)
        await gateway.drop(1001)  # nothing new this time: nothing to fetch or report
        await until(lambda: len(acks) == 2)
        await gateway.push(gateway.publish("r"))
        await until(lambda: len(got.log) == 8)
    assert got.log == [1, ("gap", 2, 5), 6, 7, 8, 9, 10, 11]
    report = {"type": "discontinuity", "roomId": "r", "fromSeq": 2, "toSeq": 5}
    assert [frame async for frame in gaps] == [report]
    assert report not in [frame async for frame in default]  # only when asked for by name
    assert [r["afterSeq"] for r in gateway.requests("getHistory")] == [1]
    assert rec.errors == []


@pytest.mark.parametrize("server", ["history_off", "v1"])
async def test_a_gap_history_cannot_fill_is_reported_and_delivery_goes_on(
    gateway: FakeGateway, server: str
) -> None:
    client, rec, got = v11_client(gateway, gap_wait=SHORT_WAIT)
    if server == "history_off":  # numbered frames, but history answers an empty page
        off = {"messages": [], "latestSeq": 0, "earliestSeq": 1, "hasMore": False}
        gateway.scripted = {"getHistory": [off]}
    else:  # no latestSeq in the join ack, unknown_action for getHistory
        gateway.v11 = False
    async with client:
        await client.join_room("r")
        sent = [gateway.publish("r") for _ in range(5)]
        await gateway.push(sent[0])
        await gateway.push(sent[3])
        await until(lambda: len(got.log) == 3)
        await gateway.push(sent[4])
        await client.heartbeat()
    assert got.log == [1, ("gap", 2, 3), 4, 5]
    assert len(gateway.requests("getHistory")) == 1
    # an empty page is an answer; a refused request is also an error, for the room
    errors = [(getattr(e, "code", None), getattr(e, "room_id", None)) for e in rec.errors]
    assert errors == ([] if server == "history_off" else [("unknown_action", "r")])


@pytest.mark.parametrize("server", ["history_off", "v1"])
async def test_unnumbered_frames_pass_straight_through(gateway: FakeGateway, server: str) -> None:
    client, _, got = v11_client(gateway, gap_wait=SHORT_WAIT)
    gateway.history_off = True
    gateway.v11 = server == "history_off"
    acks = rejoin_acks(client)
    message = MESSAGE | {"roomId": "r", "messageId": "a"}
    user_event = {"type": "event", "target": {"userId": "alice"}, "event": "x", "messageId": "b"}
    async with client:
        assert (await client.join_room("r")).get("latestSeq", 0) == 0
        assert "seq" not in await client.send_message("r", 1)
        for frame in (message, PRESENCE, user_event, EVENT):
            await gateway.push(frame)
        await client.heartbeat()
        await gateway.drop(1001)
        await until(lambda: acks)
        await gateway.push(MESSAGE)
        await until(lambda: len(got.log) == 4)
    assert [f.get("messageId") for f in got.frames] == ["a", "b", None, "m"]
    assert gateway.requests("getHistory") == []


async def test_a_frame_before_the_join_ack_waits_for_it(gateway: FakeGateway) -> None:
    client, _, got = v11_client(gateway)
    for _ in range(5):
        gateway.publish("r")
    gateway.held = {"joinRoom"}
    async with client:
        join = asyncio.create_task(client.join_room("r"))
        _, frame = await gateway.next_frame("joinRoom")
        await gateway.push(gateway.history["r"][4])  # 5: sent before the join took effect
        await gateway.push(gateway.publish("r"))  # 6: the first one after it
        await client.heartbeat()
        assert got.log == []
        await gateway.reply(frame, latestSeq=5)
        await join
        await client.heartbeat()
    assert got.log == [6]
    assert gateway.requests("getHistory") == []


async def test_own_messages_are_not_waited_for_nor_delivered_back(gateway: FakeGateway) -> None:
    client, _, got = v11_client(gateway)
    async with client:
        await client.join_room("r")
        assert (await client.send_message("r", {"text": "mine"}))["seq"] == 1
        await gateway.push(gateway.publish("r"))  # 2, from bob
        await client.heartbeat()
    assert got.log == [2]
    assert gateway.requests("getHistory") == []


async def test_ephemeral_messages_are_flagged_and_not_numbered(gateway: FakeGateway) -> None:
    client, _, _ = v11_client(gateway)
    async with client:
        await client.join_room("r")
        ephemeral = await client.send_message("r", {"x": 1}, ephemeral=True)
        persisted = await client.send_message("r", {"x": 2})
    first, second = gateway.requests("sendMessage")
    assert first["ephemeral"] is True
    assert "ephemeral" not in second
    assert "seq" not in ephemeral
    assert persisted["seq"] == 1


async def test_get_history_sends_the_given_fields_and_returns_the_ack(
    gateway: FakeGateway,
) -> None:
    client, _, got = v11_client(gateway)
    for _ in range(3):
        gateway.publish("r")
    async with client:
        page = await client.get_history("r", after_seq=1, limit=1)
        latest = await client.get_history("r")
    with_fields, without = gateway.requests("getHistory")
    assert {k: v for k, v in with_fields.items() if k != "requestId"} == {
        "action": "getHistory",
        "roomId": "r",
        "afterSeq": 1,
        "limit": 1,
    }
    assert set(without) == {"action", "requestId", "roomId"}
    assert [m["seq"] for m in page["messages"]] == [2]
    assert (page["hasMore"], page["latestSeq"], page["earliestSeq"]) == (True, 3, 1)
    assert [m["seq"] for m in latest["messages"]] == [1, 2, 3]
    assert got.frames == []  # an application query, not a delivery


async def test_a_room_whose_numbering_went_back_is_reported(gateway: FakeGateway) -> None:
    client, _, got = v11_client(gateway)
    acks = rejoin_acks(client)
    async with client:
        await client.join_room("r")
        await gateway.push(gateway.publish("r"))
        await until(lambda: got.log == [1])
        gateway.history_off = True  # the operator turned history off
        await gateway.drop(1001)
        await until(lambda: acks)
        await gateway.push(MESSAGE | {"roomId": "r"})
        await until(lambda: len(got.log) == 3)
    assert got.log == [1, ("gap", 2, None), None]


async def test_rate_limited_errors_carry_their_code_and_wait(gateway: FakeGateway) -> None:
    throttled = {"type": "error", "code": "rate_limited", "retryAfterMs": 1500}
    gateway.scripted = {"sendMessage": [throttled]}
    client, rec = make_client(gateway)
    async with client:
        with pytest.raises(ClientError) as caught:
            await client.send_message("r", 1)
        await gateway.push(throttled | {"action": None, "requestId": None})
        await until(lambda: rec.errors)
    assert (caught.value.code, caught.value.retry_after_ms) == ("rate_limited", 1500)
    unmatched = rec.errors[0]
    assert isinstance(unmatched, ClientError)
    assert (unmatched.code, unmatched.retry_after_ms) == ("rate_limited", 1500)


class Gate:
    """A sleep that returns only once the test opens the gate; records the delays asked."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._open = asyncio.Event()

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await self._open.wait()

    def open(self) -> None:
        self._open.set()


def gated_client(gateway: FakeGateway, retry_after_ms: int | None) -> tuple[WsClient, Gate]:
    """A client whose sleeps wait for the gate; the gateway refuses its first sendMessage
    with rate_limited (and `retryAfterMs` when given)."""
    refusal: dict[str, Any] = {"type": "error", "code": "rate_limited"}
    if retry_after_ms is not None:
        refusal["retryAfterMs"] = retry_after_ms
    gateway.scripted = {"sendMessage": [refusal]}
    gate = Gate()
    client = WsClient(gateway.url, "tok", sleep=gate.sleep)
    _CLIENTS.append(client)
    return client, gate


def sent_data(gateway: FakeGateway) -> list[Any]:
    return [frame["data"] for frame in gateway.requests("sendMessage")]


async def test_after_rate_limited_that_action_waits_retry_after_then_goes_in_order(
    gateway: FakeGateway,
) -> None:
    client, gate = gated_client(gateway, 700)
    async with client:
        with pytest.raises(ClientError) as refused:
            await client.send_message("r", 1)
        assert (refused.value.code, refused.value.retry_after_ms) == ("rate_limited", 700)
        held = [asyncio.create_task(client.send_message("r", n)) for n in (2, 3)]
        await client.heartbeat()  # other actions are not held
        assert gate.delays == [0.7] and sent_data(gateway) == [1]
        assert not any(task.done() for task in held)
        gate.open()
        acks = await asyncio.gather(*held)
        assert sent_data(gateway) == [1, 2, 3] and [a["messageId"] for a in acks] == ["m-1", "m-2"]
        await client.send_message("r", 4)  # the hold is over
        assert gate.delays == [0.7]


async def test_a_request_held_when_the_client_closes_fails_and_is_never_sent(
    gateway: FakeGateway,
) -> None:
    client, gate = gated_client(gateway, 5000)
    async with client:
        with pytest.raises(ClientError):
            await client.send_message("r", 1)
        held = asyncio.create_task(client.send_message("r", 2))
        await until(lambda: gate.delays)
        await client.close()
        with pytest.raises(ClientError) as caught:
            await held
    assert caught.value.code == "disconnected" and sent_data(gateway) == [1]


async def test_a_rate_limited_reply_without_retry_after_holds_nothing(gateway: FakeGateway) -> None:
    client, gate = gated_client(gateway, None)
    async with client:
        with pytest.raises(ClientError) as refused:
            await client.send_message("r", 1)
        assert refused.value.retry_after_ms is None
        await client.send_message("r", 2)
    assert gate.delays == [] and sent_data(gateway) == [1, 2]


# ---- in-band token refresh (protocol v1.1) --------------------------------------------------


def jwt(**claims: Any) -> str:
    """An unsigned JWT: the client reads exp without verifying; the fake does not check."""

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_jwt_expiry_is_read_without_verifying() -> None:
    assert jwt_expiry(jwt(exp=1_700_000_000, sub="a")) == 1_700_000_000.0
    assert jwt_expiry(jwt(exp=12.5)) == 12.5
    for token in (jwt(sub="a"), jwt(exp=True), jwt(exp="soon"), "opaque", "a.!!!.c", "a.bnVsbA.c"):
        assert jwt_expiry(token) is None


@pytest.mark.parametrize(
    ("lifetime", "refresh_after"),
    [
        (3600, 2880),  # 80 % of the lifetime comes before 60 s ahead of exp
        (200, 140),  # 60 s ahead of exp comes first
        (100, 50),  # never before half the lifetime: no refresh loop for short tokens
        (0, 0),
    ],
)
def test_refresh_time(lifetime: float, refresh_after: float) -> None:
    assert refresh_time(1000 + lifetime, 1000) == pytest.approx(1000 + refresh_after)


async def test_the_token_is_refreshed_in_band_before_it_expires(gateway: FakeGateway) -> None:
    now = time.time()
    tokens = [jwt(exp=now + 3600), jwt(exp=now + 7200)]
    calls = 0

    def provider() -> str:
        nonlocal calls
        calls += 1
        return tokens[min(calls, 2) - 1]  # then the same one again: nothing newer to send

    client, rec, _ = v11_client(gateway, token=provider)
    refreshed: list[dict[str, Any]] = []
    client.on("token_refreshed", refreshed.append)
    async with client:
        _, frame = await gateway.next_frame("refreshToken")
        await until(lambda: refreshed and calls == 3)
        await client.heartbeat()
    assert frame["token"] == tokens[1]
    assert refreshed == [{"type": "token_refreshed", "expiresAt": "2026-01-01T02:00:00Z"}]
    assert rec.delays == pytest.approx([2880, 5760], abs=5)  # scheduled sleeps, not waited
    assert gateway.tokens == [tokens[0]]  # the same connection throughout
    assert len(gateway.requests("refreshToken")) == 1
    assert rec.errors == []


async def test_a_refused_refresh_falls_back_to_a_reconnect_with_a_fresh_token(
    gateway: FakeGateway,
) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return jwt(exp=time.time() + 3600 + calls)

    client, rec, _ = v11_client(gateway, token=provider)
    gateway.errors = {"refreshToken": "forbidden"}
    async with client:
        await gateway.next_frame("refreshToken")
        await until(lambda: rec.errors)
        await gateway.drop(1000, "token expired")  # what the server does at expiry
        await gateway.next_open()
        await gateway.next_open()
        await until(lambda: client.state == "open")
        await client.heartbeat()
    assert isinstance(rec.errors[0], ClientError)
    assert rec.errors[0].code == "forbidden"
    on_first = [f for i, f in gateway.received if i == 0 and f["action"] == "refreshToken"]
    assert len(on_first) == 1  # refused once: not asked again on that connection
    assert len(gateway.tokens) == 2
    assert gateway.tokens[1] not in {gateway.tokens[0], on_first[0]["token"]}  # a fresh one


async def test_a_v1_server_is_not_asked_to_refresh_again(gateway: FakeGateway) -> None:
    client, rec = make_client(gateway, token=lambda: jwt(exp=time.time() + 3600))
    async with client:
        await gateway.next_frame("refreshToken")  # answered unknown_action
        await gateway.drop(1001)
        await gateway.next_open()
        await gateway.next_open()
        await until(lambda: client.state == "open")
        await client.heartbeat()
    assert len(gateway.requests("refreshToken")) == 1
    assert rec.errors == []
