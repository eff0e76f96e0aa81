"""Rooms, messages and presence through the real handlers (protocol v1 frames)."""

from __future__ import annotations

import pytest

from tests.functional.conftest import World


def _room(world: World, *people: tuple[str, str, str], room: str = "lobby") -> None:
    for cid, user, tenant in people:
        world.connect(cid, user, tenant)
        assert world.act(cid, {"action": "joinRoom", "roomId": room})["type"] == "ack"


def test_join_acks_with_online_members_deduplicated(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("a2", "alice", "acme"))
    world.connect("b1", "bob", "acme")
    ack = world.act("b1", {"action": "joinRoom", "roomId": "lobby", "requestId": "j"})
    assert ack["type"] == "ack" and ack["action"] == "joinRoom" and ack["requestId"] == "j"
    assert ack["roomId"] == "lobby"
    assert sorted(m["userId"] for m in ack["members"]) == ["alice", "bob"]


def test_presence_join_only_for_a_users_first_connection(world: World) -> None:
    _room(world, ("b1", "bob", "acme"))
    _room(world, ("a1", "alice", "acme"), ("a2", "alice", "acme"))
    joins = world.transport.frames("b1", "presence")
    assert joins == [{"type": "presence", "roomId": "lobby", "event": "join", "userId": "alice"}]
    assert world.transport.frames("a1", "presence") == []  # never to the joining user itself


def test_presence_leave_only_when_last_connection_leaves(world: World) -> None:
    _room(world, ("b1", "bob", "acme"), ("a1", "alice", "acme"), ("a2", "alice", "acme"))
    assert world.act("a1", {"action": "leaveRoom", "roomId": "lobby"})["type"] == "ack"
    assert world.transport.frames("b1", "presence")[-1]["event"] == "join"
    world.disconnect("a2")
    leave = world.transport.frames("b1", "presence")[-1]
    assert leave == {"type": "presence", "roomId": "lobby", "event": "leave", "userId": "alice"}


def test_send_message_reaches_other_members_not_sender(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("a2", "alice", "acme"), ("b1", "bob", "acme"))
    ack = world.act(
        "a1", {"action": "sendMessage", "roomId": "lobby", "data": {"t": "hi"}, "requestId": "m1"}
    )
    assert ack["type"] == "ack" and ack["requestId"] == "m1" and ack["roomId"] == "lobby"
    for cid in ("a2", "b1"):
        (msg,) = world.transport.frames(cid, "message")
        assert msg["messageId"] == ack["messageId"]
        assert msg["from"] == {"userId": "alice"}
        assert msg["data"] == {"t": "hi"}
        assert msg["roomId"] == "lobby"
        assert msg["sentAt"].endswith("Z") and "T" in msg["sentAt"]
    assert world.transport.frames("a1", "message") == []


def test_two_tenants_with_the_same_room_never_see_each_other(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("e1", "eve", "evil"))
    ack = world.act("e1", {"action": "joinRoom", "roomId": "lobby"})
    assert [m["userId"] for m in ack["members"]] == ["eve"]
    world.act("a1", {"action": "sendMessage", "roomId": "lobby", "data": 1})
    world.act("e1", {"action": "sendMessage", "roomId": "lobby", "data": 2})
    assert world.transport.frames("e1", "message") == []
    assert world.transport.frames("a1", "message") == []
    assert world.transport.frames("e1", "presence") == []
    tenant = world.act("e1", {"action": "getPresence"})
    assert tenant["users"] == [{"userId": "eve"}]


def test_identity_fields_in_a_body_change_nothing(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("b1", "bob", "acme"))
    world.connect("e1", "eve", "evil")
    forged = {"action": "joinRoom", "roomId": "lobby", "tenantId": "acme", "userId": "bob"}
    ack = world.act("e1", forged)
    assert [m["userId"] for m in ack["members"]] == ["eve"]
    world.act(
        "e1",
        {
            "action": "sendMessage",
            "roomId": "lobby",
            "data": "x",
            "tenantId": "acme",
            "userId": "bob",
            "from": {"userId": "bob"},
        },
    )
    assert world.transport.frames("a1", "message") == []
    assert world.transport.frames("b1", "message") == []


@pytest.mark.parametrize(
    "body",
    [
        {"action": "joinRoom"},
        {"action": "joinRoom", "roomId": ""},
        {"action": "joinRoom", "roomId": "x" * 129},
        {"action": "joinRoom", "roomId": "has space"},
        {"action": "joinRoom", "roomId": "a#b"},
        {"action": "joinRoom", "roomId": 7},
        {"action": "leaveRoom", "roomId": None},
        {"action": "sendMessage", "roomId": "lobby"},
        {"action": "getPresence", "roomId": ["lobby"]},
    ],
)
def test_invalid_requests_get_invalid_request_and_change_nothing(world: World, body: dict) -> None:
    _room(world, ("a1", "alice", "acme"))
    before = world.items()
    reply = world.act("a1", {**body, "requestId": "r"})
    assert reply["type"] == "error" and reply["code"] == "invalid_request"
    assert reply["action"] == body["action"] and reply["requestId"] == "r"
    assert world.items() == before


def test_send_without_membership_is_not_member(world: World) -> None:
    world.connect("a1")
    reply = world.act("a1", {"action": "sendMessage", "roomId": "lobby", "data": 1})
    assert reply["code"] == "not_member"


def test_leave_without_membership_is_not_member(world: World) -> None:
    world.connect("a1")
    assert world.act("a1", {"action": "leaveRoom", "roomId": "lobby"})["code"] == "not_member"


def test_rooms_claim_limits_which_rooms_can_be_joined(world: World) -> None:
    world.connect("a1", rooms="team-*,lobby")
    assert (
        world.act("a1", {"action": "joinRoom", "roomId": "team-red"}, rooms="team-*,lobby")["type"]
        == "ack"
    )
    denied = world.act("a1", {"action": "joinRoom", "roomId": "admin"}, rooms="team-*,lobby")
    assert denied["code"] == "forbidden"
    assert not [i for i in world.items() if i["PK"]["S"] == "ROOM#acme#admin"]


def test_oversized_message_is_payload_too_large(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("b1", "bob", "acme"))
    reply = world.act("a1", {"action": "sendMessage", "roomId": "lobby", "data": "x" * 131072})
    assert reply["code"] == "payload_too_large"
    assert world.transport.frames("b1", "message") == []


def test_gone_recipient_is_pruned_not_the_sender(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("b1", "bob", "acme"), ("c1", "carol", "acme"))
    world.transport.status["b1"] = 410
    world.act("a1", {"action": "sendMessage", "roomId": "lobby", "data": "hi"})
    keys = {(i["PK"]["S"], i["SK"]["S"]) for i in world.items()}
    assert ("CONN#b1", "META") not in keys
    assert ("ROOM#acme#lobby", "CONN#b1") not in keys
    assert ("CONN#a1", "META") in keys and ("ROOM#acme#lobby", "CONN#a1") in keys
    leave = world.transport.frames("c1", "presence")[-1]
    assert leave == {"type": "presence", "roomId": "lobby", "event": "leave", "userId": "bob"}


def test_throttled_recipient_is_retried_then_delivered(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("b1", "bob", "acme"))
    world.transport.status["b1"] = [429, 429, 200]
    world.act("a1", {"action": "sendMessage", "roomId": "lobby", "data": "hi"})
    assert len(world.transport.frames("b1", "message")) == 1


def test_presence_for_room_and_tenant(world: World) -> None:
    _room(world, ("a1", "alice", "acme"), ("a2", "alice", "acme"), ("b1", "bob", "acme"))
    world.connect("c1", "carol", "acme")
    room = world.act("c1", {"action": "getPresence", "roomId": "lobby", "requestId": "p"})
    assert room["roomId"] == "lobby" and room["requestId"] == "p"
    assert sorted(u["userId"] for u in room["users"]) == ["alice", "bob"]
    tenant = world.act("c1", {"action": "getPresence"})
    assert sorted(u["userId"] for u in tenant["users"]) == ["alice", "bob", "carol"]
