"""Protocol v1: request parsing, best-effort peeking, roomId rules and exact frame shapes."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wscore.errors import ErrorCode, InvalidJson, InvalidRequest, UnknownAction
from wscore.protocol import (
    ACTIONS,
    ack,
    encode,
    error,
    iso_now,
    message_event,
    parse_request,
    peek,
    presence_event,
    publish_event,
    room_id,
    unknown_action_message,
)


# -- parse_request -----------------------------------------------------------------------
@pytest.mark.parametrize("action", ACTIONS)
def test_parse_request_splits_action_request_id_and_fields(action: str) -> None:
    body = json.dumps({"action": action, "requestId": "r1", "roomId": "lobby", "data": [1]})
    request = parse_request(body)
    assert request.action == action and request.request_id == "r1"
    assert dict(request.fields) == {"roomId": "lobby", "data": [1]}


def test_parse_request_without_request_id() -> None:
    request = parse_request('{"action":"heartbeat"}')
    assert request.request_id is None and dict(request.fields) == {}


@pytest.mark.parametrize(
    ("body", "error_type", "message"),
    [
        (None, InvalidJson, "the frame is empty; send a JSON object with an action"),
        ("", InvalidJson, "the frame is empty; send a JSON object with an action"),
        ("{", InvalidJson, "the frame is not valid JSON"),
        ("[]", InvalidJson, "the frame must be a JSON object"),
        ('"heartbeat"', InvalidJson, "the frame must be a JSON object"),
        ("null", InvalidJson, "the frame must be a JSON object"),
        ('{"action":"heartbeat","x":NaN}', InvalidJson, "the frame is not valid JSON"),
        ('{"action":"heartbeat","x":1e999}', InvalidJson, "the frame is not valid JSON"),
        ("[" * 50_000, InvalidJson, "the frame is nested too deeply"),
        ('{"action":"heartbeat","requestId":5}', InvalidRequest, "requestId must be a string"),
        ('{"action":"heartbeat","requestId":"%s"}' % ("r" * 129), InvalidRequest, "128"),
        ('{"action":"fly"}', UnknownAction, "unknown action 'fly'; valid actions: joinRoom"),
        ('{"action":5}', UnknownAction, "missing or invalid action; valid actions"),
        ("{}", UnknownAction, "missing or invalid action"),
        ('{"action":"HEARTBEAT"}', UnknownAction, "unknown action 'HEARTBEAT'"),
    ],
)
def test_parse_request_errors(body: str | None, error_type: type, message: str) -> None:
    with pytest.raises(error_type) as raised:
        parse_request(body)
    assert message in raised.value.message  # type: ignore[attr-defined]


def test_error_codes_are_the_protocol_set() -> None:
    assert {str(c) for c in ErrorCode} == {
        "invalid_json",
        "unknown_action",
        "invalid_request",
        "forbidden",
        "not_member",
        "payload_too_large",
        "rate_limited",
        "internal_error",
    }
    assert InvalidJson.code is ErrorCode.INVALID_JSON
    assert UnknownAction.code is ErrorCode.UNKNOWN_ACTION
    assert InvalidRequest.code is ErrorCode.INVALID_REQUEST


def test_unknown_action_message_lists_every_action_and_hides_long_names() -> None:
    for action in ("fly", None, 5, "x" * 65):
        message = unknown_action_message(action)
        assert message.endswith("valid actions: " + ", ".join(ACTIONS))
    assert "x" * 65 not in unknown_action_message("x" * 65)


# -- peek ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action":"joinRoom","requestId":"r"}', ("joinRoom", "r")),
        ('{"action":"fly","requestId":7}', ("fly", None)),
        ('{"action":7,"requestId":"r"}', (None, "r")),
        ('{"action":"%s"}' % ("a" * 65), (None, None)),
        ('{"requestId":"%s"}' % ("r" * 128), (None, "r" * 128)),
        ('{"requestId":"%s"}' % ("r" * 129), (None, None)),
        ("[1]", (None, None)),
        ("not json", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
        ("[" * 50_000, (None, None)),
        ('{"requestId":"r","x":NaN}', (None, None)),
    ],
)
def test_peek(body: str | None, expected: tuple[str | None, str | None]) -> None:
    assert peek(body) == expected


@given(st.text())
def test_peek_and_parse_request_never_raise_anything_else(body: str) -> None:
    peek(body)
    with contextlib.suppress(InvalidJson, InvalidRequest, UnknownAction):
        parse_request(body)


# -- roomId ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["a", "lobby", "team-1", "A.b:c_d-e", "Z" * 128, "0"])
def test_room_id_valid(value: str) -> None:
    assert room_id({"roomId": value}) == value


@pytest.mark.parametrize(
    "value", ["", "x" * 129, "a b", "a#b", "é", "lobby\n", "a/b", None, 5, ["a"], {"a": 1}, True]
)
def test_room_id_invalid(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="roomId must be 1-128 characters"):
        room_id({"roomId": value})


def test_room_id_optional() -> None:
    assert room_id({}, required=False) is None
    assert room_id({"roomId": None}, required=False) is None
    with pytest.raises(InvalidRequest):
        room_id({})
    with pytest.raises(InvalidRequest):
        room_id({"roomId": ""}, required=False)


# -- frames ----------------------------------------------------------------------------
def test_ack_shape() -> None:
    assert ack("joinRoom", "r", roomId="x", members=[]) == {
        "type": "ack",
        "action": "joinRoom",
        "requestId": "r",
        "roomId": "x",
        "members": [],
    }
    assert ack("heartbeat", None) == {"type": "ack", "action": "heartbeat", "requestId": None}


def test_error_shape() -> None:
    assert error(None, None, ErrorCode.INVALID_JSON, "bad") == {
        "type": "error",
        "action": None,
        "requestId": None,
        "code": "invalid_json",
        "message": "bad",
    }
    frame = error("sendMessage", "r", ErrorCode.NOT_MEMBER, "join first")
    assert json.loads(encode(frame))["code"] == "not_member"


def test_event_shapes() -> None:
    assert message_event("r", "m", "u", {"a": 1}, "2026-01-01T00:00:00.000Z") == {
        "type": "message",
        "roomId": "r",
        "messageId": "m",
        "from": {"userId": "u"},
        "data": {"a": 1},
        "sentAt": "2026-01-01T00:00:00.000Z",
    }
    with_seq = message_event("r", "m", "u", 1, "2026-01-01T00:00:00.000Z", seq=7)
    assert list(with_seq) == ["type", "roomId", "messageId", "seq", "from", "data", "sentAt"]
    assert with_seq["seq"] == 7
    assert presence_event("r", "leave", "u") == {
        "type": "presence",
        "roomId": "r",
        "event": "leave",
        "userId": "u",
    }
    target = {"roomId": "r"}
    frame = publish_event(target, "deploy", None, "m1")
    assert frame == {
        "type": "event",
        "target": {"roomId": "r"},
        "event": "deploy",
        "messageId": "m1",
        "data": None,
    }
    assert publish_event(target, "deploy", 2, "m2", 9)["seq"] == 9
    assert frame["target"] is not target  # a copy: later changes to the payload do not leak


def test_encode_is_compact_and_keeps_non_ascii() -> None:
    assert encode({"a": [1, 2], "b": "é😀"}) == '{"a":[1,2],"b":"é😀"}'


def test_encode_escapes_lone_surrogates_so_the_frame_is_valid_utf8() -> None:
    text = encode({"a": "x\ud800y", "b": "é"})
    text.encode("utf-8")
    assert json.loads(text) == {"a": "x\ud800y", "b": "é"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_encode_refuses_nan_and_infinity(value: float) -> None:
    with pytest.raises(ValueError):
        encode({"data": value})


@given(st.text(st.characters(codec=None, categories=None)))
def test_encode_always_gives_utf8_that_decodes_to_the_same_value(value: str) -> None:
    text = encode({"v": value})
    assert json.loads(text.encode("utf-8").decode("utf-8")) == {"v": value}


# -- iso_now ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1.5, "1970-01-01T00:00:01.500Z"),
        (1795842001.2349, "2026-11-28T05:00:01.234Z"),
        (4102444800, "2100-01-01T00:00:00.000Z"),
    ],
)
def test_iso_now(now: float, expected: str) -> None:
    assert iso_now(now) == expected


def test_coalesced_presence_is_split_only_past_its_byte_budget() -> None:
    from wscore.protocol import presence_changes

    assert presence_changes("r", [], [], 100) == []
    assert presence_changes("r", ["a"], ["b"], 100) == [
        {"type": "presence", "roomId": "r", "joined": ["a"], "left": ["b"]}
    ]
    joined = [f"j{i:03d}" for i in range(30)]  # 7 bytes each with quotes and comma
    left = [f"l{i:03d}" for i in range(20)]
    frames = presence_changes("r", joined, left, 70)
    assert all(len(f["joined"]) + len(f["left"]) <= 10 for f in frames)
    assert len(frames) == 5  # 50 ids, 10 per frame: no frame is split early
    assert [u for f in frames for u in f["joined"]] == joined  # every id once, in order
    assert [u for f in frames for u in f["left"]] == left
    one_big = presence_changes("r", ["x" * 200], [], 70)  # one id over budget still goes
    assert one_big == [{"type": "presence", "roomId": "r", "joined": ["x" * 200], "left": []}]
