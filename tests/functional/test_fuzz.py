"""Hypothesis fuzzing of every client route's body through the real handlers on moto.

Property, for each route: whatever the body (wrong types, missing and extra fields, odd
unicode including lone surrogate escapes, deep nesting, huge values, non-object JSON,
invalid JSON, NaN/Infinity), the handler returns statusCode 200 and exactly one frame that
is valid UTF-8 strict JSON: an ack for that route's action with exactly the protocol's
fields, or an error frame with a protocol code (never `internal_error`: nothing a client
sends is a server fault). The requestId is echoed when it was a valid string. A rejected
body leaves the table unchanged and delivers nothing to anyone.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.conftest import World
from tests.helpers import HANDLER_FOR_ACTION, moto_table_items
from tools.ws_events import ws_event
from wscore.errors import ErrorCode
from wscore.repository import rate_pk


@pytest.fixture
def dynamodb_transport() -> str:
    """Generated sequences run on the production client only (both would double the time)."""
    return "fast"


ROUTES = {**HANDLER_FOR_ACTION, "$default": "default"}
CODES = {str(c) for c in ErrorCode}
ROOM_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
JOINED = ("lobby", "team-a")  # rooms the actors and the listener are in at the start

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# -- strategies ------------------------------------------------------------------------
def _nest(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


odd_text = st.text(
    alphabet=st.characters(codec=None, categories=None),  # every code point, surrogates too
    max_size=40,
)
any_text = st.one_of(st.text(max_size=40), odd_text)
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_value = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=15,
)
huge_string = st.sampled_from([20_000, 70_000, 131_000]).map(lambda n: "é" * n)
deep_nested = st.integers(min_value=1, max_value=200).map(_nest)
room_ids = st.one_of(
    st.sampled_from([*JOINED, "other", "team-b", "nope.room:1", "Z" * 128]),
    st.from_regex(ROOM_RE, fullmatch=True),
    st.sampled_from(["", " ", "a#b", "a b", "ROOM#acme#lobby", "x" * 129, "lobby\n", "é"]),
    any_text,
    json_value,
)
request_ids = st.one_of(
    any_text,
    st.sampled_from(["", "r-1", "x" * 128, "x" * 129]),
    json_value,
)
datas = st.one_of(json_value, huge_string, deep_nested)
actions = st.one_of(
    st.sampled_from(sorted(HANDLER_FOR_ACTION)),
    st.sampled_from(["", "JOINROOM", "publish", "$connect", "x" * 65]),
    any_text,
    json_value,
)
extras = st.dictionaries(
    st.one_of(st.sampled_from(["userId", "tenantId", "connectionId", "rooms", "type"]), any_text),
    json_value,
    max_size=3,
)
raw_fragments = st.sampled_from(
    [
        '"\\ud800"',
        '"\\udfff\\ud800"',
        '"\\u0000"',
        "NaN",
        "-Infinity",
        "1e400",
        "-1e999",
        "9" * 5000,
        "[" * 5000,
        '{"a":' * 3000,
        "[" * 150 + "]" * 150,
        "tru",
        '"unterminated',
        "\ud800",
    ]
)


@st.composite
def object_bodies(draw: st.DrawFn, action: str) -> str:
    """A JSON object body: the route's action (usually), each field present or not."""
    body: dict[str, Any] = {}
    if draw(st.integers(0, 9)) < 8:
        body["action"] = action if action != "$default" else draw(actions)
    elif draw(st.booleans()):
        body["action"] = draw(actions)
    if draw(st.booleans()):
        body["requestId"] = draw(request_ids)
    if draw(st.integers(0, 9)) < 7:
        body["roomId"] = draw(room_ids)
    if draw(st.booleans()):
        body["data"] = draw(datas)
    body.update(draw(extras))
    return json.dumps(body)


@st.composite
def raw_bodies(draw: st.DrawFn, action: str) -> str:
    """Raw text: templates with injected raw JSON fragments, and arbitrary strings."""
    frag = draw(raw_fragments)
    name = action if action != "$default" else "heartbeat"
    templates = [
        f'{{"action":"{name}","requestId":"raw","roomId":"lobby","data":{frag}}}',
        f'{{"action":"{name}","requestId":{frag},"roomId":"lobby","data":1}}',
        f'{{"action":"{name}","roomId":{frag}}}',
        f'{{"action":{frag},"requestId":"raw"}}',
        frag,
        f'\ufeff{{"action":"{name}"}}',
        f'{{"action":"{name}"}} trailing',
        f'{{"action":"{name}","roomId":"lobby","roomId":"team-a","data":0}}',
    ]
    return draw(st.one_of(st.sampled_from(templates), any_text, st.just(""), st.just("null")))


def non_object_bodies() -> st.SearchStrategy[str]:
    return json_value.filter(lambda v: not isinstance(v, dict)).map(json.dumps)


def bodies(action: str) -> st.SearchStrategy[str | None]:
    return st.one_of(
        object_bodies(action),
        object_bodies(action),
        raw_bodies(action),
        non_object_bodies(),
        st.none(),
    )


# -- the oracle ------------------------------------------------------------------------
def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)

    def finite(raw: str) -> float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value

    return json.loads(text, parse_constant=refuse, parse_float=finite)


def expected_request_id(body: str | None) -> str | None:
    """The requestId a reply must echo: a string of at most 128 chars in a JSON object."""
    try:
        data = _strict(body or "")
    except (ValueError, RecursionError):
        return None
    rid = data.get("requestId") if isinstance(data, dict) else None
    return rid if isinstance(rid, str) and len(rid) <= 128 else None


def _users(value: Any) -> list[str]:
    assert isinstance(value, list)
    for entry in value:
        assert isinstance(entry, dict) and set(entry) == {"userId"}
        assert isinstance(entry["userId"], str) and entry["userId"]
    users = [e["userId"] for e in value]
    assert len(users) == len(set(users)), "users are deduplicated"
    return users


def _count(value: Any) -> int:
    assert isinstance(value, int) and not isinstance(value, bool), value
    return value


def check_ack(action: str, frame: dict[str, Any]) -> None:
    base = {"type", "action", "requestId"}
    optional = {"truncated", "nextCursor"} if action in ("joinRoom", "getPresence") else set()
    keys = set(frame) - base - optional
    if action == "joinRoom":
        assert keys == {"roomId", "members", "memberCount", "latestSeq"}
        assert ROOM_RE.fullmatch(frame["roomId"])
        assert _count(frame["memberCount"]) >= len(_users(frame["members"])) >= 1
        assert _count(frame["latestSeq"]) >= 0
    elif action == "leaveRoom":
        assert keys == {"roomId"} and ROOM_RE.fullmatch(frame["roomId"])
    elif action == "sendMessage":
        assert keys in ({"roomId", "messageId", "seq"}, {"roomId", "messageId"})
        assert ROOM_RE.fullmatch(frame["roomId"])
        assert re.fullmatch(r"[0-9a-f]{32}", frame["messageId"])
        assert "seq" not in frame or _count(frame["seq"]) >= 1
    elif action == "getHistory":
        assert keys == {"roomId", "messages", "latestSeq", "earliestSeq", "hasMore"}
        assert ROOM_RE.fullmatch(frame["roomId"]) and isinstance(frame["messages"], list)
        assert 1 <= _count(frame["earliestSeq"]) <= _count(frame["latestSeq"]) + 1
        assert isinstance(frame["hasMore"], bool)
        seqs = [m["seq"] for m in frame["messages"]]
        assert seqs == sorted(set(seqs)) and all(frame["earliestSeq"] <= s for s in seqs)
    elif action == "refreshToken":
        assert keys == {"expiresAt"} and ISO_RE.fullmatch(frame["expiresAt"])
    elif action == "heartbeat":
        assert keys == {"serverTime"} and ISO_RE.fullmatch(frame["serverTime"])
    elif action == "getPresence":
        assert keys in ({"users"}, {"users", "roomId", "memberCount"})
        assert _count(frame.get("memberCount", 0)) >= len(_users(frame["users"])) * (
            "roomId" in keys
        )
    else:
        pytest.fail(f"$default must never ack: {frame}")
    if "truncated" in frame:
        assert frame["truncated"] is True
    assert ("truncated" in frame) == ("nextCursor" in frame)


def check_reply(action: str, body: str | None, out: dict[str, Any]) -> dict[str, Any]:
    """Assert the reply is one well-formed frame for this route; return it."""
    assert set(out) == {"statusCode", "body"}, out
    assert out["statusCode"] == 200
    assert isinstance(out["body"], str)
    out["body"].encode("utf-8")  # a WebSocket text frame must be valid UTF-8
    frame = _strict(out["body"])
    assert isinstance(frame, dict)
    assert frame["requestId"] == expected_request_id(body)
    if frame["type"] == "ack":
        assert frame["action"] == action
        check_ack(action, frame)
    else:
        assert frame["type"] == "error", frame
        assert set(frame) == {"type", "action", "requestId", "code", "message"}
        assert frame["code"] in CODES and frame["code"] != "internal_error", frame
        assert isinstance(frame["message"], str) and frame["message"]
        if action == "$default":
            assert frame["code"] in ("invalid_json", "unknown_action", "invalid_request")
            assert frame["action"] is None or (
                isinstance(frame["action"], str) and len(frame["action"]) <= 64
            )
        else:
            assert frame["action"] == action
    return frame


# -- the world -------------------------------------------------------------------------
ACTORS = {  # cid: (user, tenant, rooms claim)
    "c1": ("alice", "acme", ""),
    "c2": ("carol", "acme", "lobby,team-*"),
}


def _setup(world: World) -> None:
    """Two actors, a listener in the same rooms, and another tenant's member of `lobby`."""
    for cid, (user, tenant, rooms) in ACTORS.items():
        world.connect(cid, user, tenant, rooms=rooms)
    world.connect("c3", "bob", "acme")
    world.connect("x9", "mallory", "globex")
    for cid in ("c1", "c2", "c3"):
        for room in JOINED:
            _act(world, cid, "joinRoom", json.dumps({"action": "joinRoom", "roomId": room}))
    _act(world, "x9", "joinRoom", json.dumps({"action": "joinRoom", "roomId": "lobby"}))
    world.transport.sent.clear()


def _act(world: World, cid: str, action: str, body: str | None) -> dict[str, Any]:
    user, tenant, rooms = ACTORS.get(cid, ("bob", "acme", ""))
    if cid == "x9":
        user, tenant = "mallory", "globex"
    event = ws_event("message", cid, user, tenant, body, route=action, rooms=rooms)
    result: dict[str, Any] = world.call(ROUTES[action], event)
    return result


def _snapshot(world: World) -> list[str]:
    """The table but the tenants' rate-limit buckets: every well-formed sendMessage takes a
    token before the membership check (docs/ARCHITECTURE.md, "Rate limits")."""
    items = moto_table_items(world.table)
    kept = (item for item in items if not item["PK"]["S"].startswith(rate_pk("")))
    return sorted(json.dumps(item, sort_keys=True) for item in kept)


def run_property(world: World, action: str, actor: str, body: str | None) -> None:
    before = _snapshot(world)
    calls_before = world.transport.calls
    sent_before = {cid: len(frames) for cid, frames in world.transport.sent.items()}
    out = _act(world, actor, action, body)
    frame = check_reply(action, body, out)
    assert len(world.transport.sent.get(actor, [])) == sent_before.get(actor, 0), (
        "the reply is the route response, never a post to the caller"
    )
    assert world.transport.frames("x9") == [], "another tenant received a frame"
    if frame["type"] == "error":
        assert _snapshot(world) == before, f"rejected body changed the table: {body!r}"
        assert world.transport.calls == calls_before, "a rejected body delivered something"
        return
    if action == "sendMessage":
        data = _strict(body or "")["data"]
        (msg,) = world.transport.frames("c3", "message")[sent_before.get("c3", 0) :] or [None]
        assert msg is not None and msg["messageId"] == frame["messageId"]
        assert msg["data"] == data and msg["from"] == {"userId": ACTORS[actor][0]}
    if action == "leaveRoom" and frame["roomId"] in JOINED:  # keep the world interesting
        rejoin = json.dumps({"action": "joinRoom", "roomId": frame["roomId"]})
        assert _strict(_act(world, actor, "joinRoom", rejoin)["body"])["type"] == "ack"


@pytest.mark.parametrize("action", list(ROUTES))
def test_every_body_gets_exactly_one_valid_frame(world: World, action: str) -> None:
    _setup(world)

    @FUZZ
    @given(body=bodies(action), actor=st.sampled_from(sorted(ACTORS)))
    def prop(body: str | None, actor: str) -> None:
        run_property(world, action, actor, body)

    prop()


# -- regressions the fuzzer found (kept explicit so they never come back) -----------------
def test_snapshot_matches_a_scan(world: World) -> None:
    _setup(world)
    scanned = sorted(json.dumps(item, sort_keys=True) for item in world.items())
    # 4 connections, 7 memberships, 7 users' presence in 3 rooms, and those rooms' counters
    assert _snapshot(world) == scanned and len(scanned) == 4 + 7 + 7 + 3


def test_regressions_deep_nesting_surrogates_and_non_finite_numbers(world: World) -> None:
    _setup(world)
    deep = '{"action":"heartbeat","requestId":"deep","data":' + "[" * 100_000
    for route in ("$default", "heartbeat", "joinRoom"):  # was: RecursionError, a crash
        frame = check_reply(route, deep, _act(world, "c1", route, deep))
        assert frame["code"] == "invalid_json" and frame["requestId"] is None

    # was: internal_error (UnicodeEncodeError), and an unencodable reply when echoed
    body = '{"action":"sendMessage","requestId":"\\ud800","roomId":"lobby","data":"a\\udfffb"}'
    out = _act(world, "c1", "sendMessage", body)
    frame = check_reply("sendMessage", body, out)
    assert frame["type"] == "ack" and frame["requestId"] == "\ud800"
    assert "\\ud800" in out["body"]  # written as an escape, so the frame is valid UTF-8
    (msg,) = world.transport.frames("c3", "message")
    assert msg["data"] == "a\udfffb"

    # was: accepted and relayed as NaN/Infinity, which JSON.parse in a browser rejects
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        body = f'{{"action":"sendMessage","requestId":"n","roomId":"lobby","data":{literal}}}'
        frame = check_reply("sendMessage", body, _act(world, "c1", "sendMessage", body))
        assert frame["code"] == "invalid_json"
    assert len(world.transport.frames("c3")) == 1


# -- server-side publish: backends' payloads are fuzzed too --------------------------------
publish_payloads = st.one_of(
    st.fixed_dictionaries(
        {
            "tenantId": st.one_of(st.sampled_from(["acme", "globex"]), any_text, json_value),
            "target": st.one_of(
                st.fixed_dictionaries({"roomId": room_ids}),
                st.fixed_dictionaries({"userId": st.one_of(st.sampled_from(["bob"]), any_text)}),
                st.fixed_dictionaries({"tenant": st.one_of(st.just(True), json_value)}),
                json_value,
            ),
            "event": st.one_of(st.sampled_from(["deploy", "a.b:c"]), any_text, json_value),
        },
        optional={
            "data": st.one_of(datas, st.sampled_from([float("nan"), float("inf")])),
            "extra": json_value,
        },
    ),
    json_value,
)


def test_publish_never_raises_and_never_sends_invalid_json(world: World) -> None:
    """Direct invoke: an answer for every payload; every delivered frame is strict JSON."""
    _setup(world)

    @FUZZ
    @given(payload=publish_payloads)
    def prop(payload: Any) -> None:
        before = {cid: len(frames) for cid, frames in world.transport.sent.items()}
        calls = world.transport.calls
        out = world.call("publish", payload)
        assert isinstance(out, dict) and isinstance(out.get("ok"), bool)
        if not out["ok"]:
            assert out["error"]["code"] in CODES and out["error"]["message"]
            assert world.transport.calls == calls, "a rejected payload delivered something"
            return
        tenant = payload["tenantId"]
        for cid, frames in world.transport.sent.items():
            for frame in frames[before.get(cid, 0) :]:
                assert frame["type"] == "event" and frame["target"] == payload["target"]
                assert _strict(json.dumps(frame)) == frame
                assert (cid == "x9") == (tenant == "globex"), "delivered across tenants"

    prop()


def test_publish_with_nan_data_is_rejected(world: World) -> None:
    _setup(world)
    out = world.call(
        "publish",
        {"tenantId": "acme", "target": {"roomId": "lobby"}, "event": "e", "data": float("nan")},
    )
    assert out["ok"] is False and out["error"]["code"] == "invalid_request"
    assert all(frames == [] for frames in world.transport.sent.values())
