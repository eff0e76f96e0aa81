"""Protocol v1.1 on moto through the real handlers: seq, history, resume, token refresh,
listener expiry and the hand-over of failed recipients to the fan-out queue."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from tests.functional.conftest import World
from tests.functional.test_fanout_stream_publish import _wait_records
from tools.devtoken import DEV_AUDIENCE, DEV_ISSUER, DEV_SECRET, mint
from tools.ws_events import ws_event


def _room(
    world: World, *members: tuple[str, str], room: str = "lobby", tenant: str = "acme"
) -> None:
    for cid, user in members:
        world.connect(cid, user, tenant)
        assert world.act(cid, {"action": "joinRoom", "roomId": room})["type"] == "ack"
    world.transport.sent.clear()


def _send(world: World, cid: str, data: Any, room: str = "lobby", **extra: Any) -> dict[str, Any]:
    ack: dict[str, Any] = world.act(
        cid, {"action": "sendMessage", "roomId": room, "data": data, **extra}
    )
    assert ack["type"] == "ack", ack
    return ack


def _history(world: World, cid: str, room: str = "lobby", **fields: Any) -> dict[str, Any]:
    reply: dict[str, Any] = world.act(cid, {"action": "getHistory", "roomId": room, **fields})
    return reply


def _history_items(world: World, tenant: str = "acme", room: str = "lobby") -> list[dict[str, Any]]:
    out = world.dynamodb.query(
        TableName=world.table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"HIST#{tenant}#{room}"}},
    )
    items: list[dict[str, Any]] = out["Items"]
    return items


# -- sequence numbers ----------------------------------------------------------------------


def test_messages_are_numbered_per_room_and_tenant(world: World) -> None:
    _room(world, ("a", "alice"), ("b", "bob"))
    _room(world, ("x", "xena"), tenant="globex")  # same room name, another tenant
    acks = [_send(world, "a", {"n": n}) for n in range(3)]
    assert [ack["seq"] for ack in acks] == [1, 2, 3]
    assert _send(world, "x", "other tenant")["seq"] == 1
    frames = world.transport.frames("b", "message")
    assert [(f["seq"], f["messageId"]) for f in frames] == [
        (ack["seq"], ack["messageId"]) for ack in acks
    ]
    world.connect("c", "carol")
    assert world.act("c", {"action": "joinRoom", "roomId": "lobby"})["latestSeq"] == 3
    assert world.act("c", {"action": "joinRoom", "roomId": "empty"})["latestSeq"] == 0


def test_ephemeral_messages_have_no_seq_and_are_not_stored(world: World) -> None:
    _room(world, ("a", "alice"), ("b", "bob"))
    ack = _send(world, "a", {"x": 1}, ephemeral=True)
    assert "seq" not in ack
    (frame,) = world.transport.frames("b", "message")
    assert "seq" not in frame and frame["messageId"] == ack["messageId"]
    assert _history_items(world) == []
    assert _send(world, "a", "persisted")["seq"] == 1
    reply = world.act("a", {"action": "sendMessage", "roomId": "lobby", "data": 1, "ephemeral": 1})
    assert reply["code"] == "invalid_request"


# -- getHistory ----------------------------------------------------------------------------


def test_history_pages_by_count_after_a_seq(world: World) -> None:
    _room(world, ("a", "alice"), ("b", "bob"))
    for n in range(7):
        _send(world, "a", {"n": n})
    page = _history(world, "b", afterSeq=2, limit=3)
    assert [m["seq"] for m in page["messages"]] == [3, 4, 5]
    assert page["messages"][0] == world.transport.frames("b", "message")[2]  # as delivered
    assert (page["latestSeq"], page["earliestSeq"], page["hasMore"]) == (7, 1, True)
    page = _history(world, "b", afterSeq=5, limit=3)
    assert [m["seq"] for m in page["messages"]] == [6, 7] and page["hasMore"] is False
    assert _history(world, "b", afterSeq=7)["messages"] == []


def test_history_without_after_seq_is_the_latest_frames_ascending(world: World) -> None:
    _room(world, ("a", "alice"))
    for n in range(5):
        _send(world, "a", n)
    page = _history(world, "a", limit=2)
    assert [m["seq"] for m in page["messages"]] == [4, 5] and page["hasMore"] is False


def test_history_pages_by_bytes_under_the_message_limit(world: World) -> None:
    _room(world, ("a", "alice"))
    big = "x" * (50 * 1024)
    for _ in range(5):
        _send(world, "a", big)
    body = {"action": "getHistory", "roomId": "lobby", "afterSeq": 0}
    out = world.call("get_history", ws_event("message", "a", "alice", "acme", body))
    assert len(out["body"].encode()) < 128 * 1024
    page = json.loads(out["body"])
    assert [m["seq"] for m in page["messages"]] == [1, 2] and page["hasMore"] is True
    page = _history(world, "a", afterSeq=2)
    assert [m["seq"] for m in page["messages"]] == [3, 4]


def test_a_persisted_message_must_fit_a_history_page(world: World) -> None:
    _room(world, ("a", "alice"))
    near_limit = "x" * (127 * 1024)
    assert (
        world.act("a", {"action": "sendMessage", "roomId": "lobby", "data": near_limit})["code"]
        == "payload_too_large"
    )
    assert _send(world, "a", near_limit, ephemeral=True)["messageId"]  # ephemeral: 128 KB


@pytest.mark.parametrize(
    "fields",
    [
        {"afterSeq": -1},
        {"afterSeq": "1"},
        {"afterSeq": True},
        {"afterSeq": 1.5},
        {"limit": 0},
        {"limit": 101},
        {"limit": "5"},
        {"roomId": "bad room"},
    ],
)
def test_history_request_errors(world: World, fields: dict[str, Any]) -> None:
    _room(world, ("a", "alice"))
    reply = world.act("a", {"action": "getHistory", "roomId": "lobby", **fields})
    assert reply["type"] == "error" and reply["code"] == "invalid_request", reply


def test_history_needs_the_room_allowed_not_membership(world: World) -> None:
    _room(world, ("a", "alice"))
    _send(world, "a", "hello")
    world.connect("r", "rita", rooms="team-*")
    assert _history(world, "r")["code"] == "forbidden"
    world.connect("o", "otto")  # not a member, any room allowed
    assert [m["data"] for m in _history(world, "o", afterSeq=0)["messages"]] == ["hello"]


def test_expired_history_is_invisible_before_ttl_deletes_it(world: World) -> None:
    _room(world, ("a", "alice"))
    for n in range(6):
        _send(world, "a", n)
    past = int(time.time()) - 1
    for item in _history_items(world)[:4]:  # seqs 1-4 expired, not yet deleted by TTL
        world.dynamodb.update_item(
            TableName=world.table,
            Key={"PK": item["PK"], "SK": item["SK"]},
            UpdateExpression="SET expiresAt = :past",
            ExpressionAttributeValues={":past": {"N": str(past)}},
        )
    page = _history(world, "a", afterSeq=1)
    assert page["earliestSeq"] == 5
    assert [m["seq"] for m in page["messages"]] == [5, 6]
    assert [m["seq"] for m in _history(world, "a", limit=10)["messages"]] == [5, 6]
    assert _history(world, "a", afterSeq=0)["earliestSeq"] == 5  # from the stored hint


def test_history_off_means_no_seq_and_empty_pages(
    world: World, monkeypatch: pytest.MonkeyPatch, fresh: Any
) -> None:
    monkeypatch.setenv("HISTORY_RETENTION_SECONDS", "0")
    fresh()
    _room(world, ("a", "alice"), ("b", "bob"))
    ack = _send(world, "a", "hi")
    assert "seq" not in ack and "seq" not in world.transport.frames("b", "message")[0]
    assert world.act("a", {"action": "joinRoom", "roomId": "lobby"})["latestSeq"] == 0
    page = _history(world, "a", afterSeq=0)
    assert (page["messages"], page["latestSeq"], page["earliestSeq"], page["hasMore"]) == (
        [],
        0,
        1,
        False,
    )


def test_a_seq_whose_writer_died_is_skipped_never_lost(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seq allocated but never stored: pages stop before it while its writer could still
    store it, then a tombstone settles it; the late writer's put then fails."""
    from wscore import history, services

    _room(world, ("a", "alice"), ("b", "bob"))
    _send(world, "a", "one")
    repo = services.services().repo
    dead = repo.allocate_seq("acme", "lobby", int(time.time() * 1000))  # writer killed here
    assert dead == 2
    _send(world, "a", "three")
    young = _history(world, "b", afterSeq=0)
    assert [m["seq"] for m in young["messages"]] == [1] and young["hasMore"] is True
    monkeypatch.setattr(history, "SETTLE_MS", 0)  # the gap is now old enough
    settled = _history(world, "b", afterSeq=0)
    assert [m["seq"] for m in settled["messages"]] == [1, 3] and settled["hasMore"] is False
    late = history.HistoryEntry("acme", "lobby", 2, '{"late":true}', 0, int(time.time()) + 60)
    assert repo.put_history(late) is False  # the tombstone won: the late writer aborts


def test_a_tail_seq_whose_writer_died_is_settled_from_the_counter(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wscore import history, services

    _room(world, ("a", "alice"))
    _send(world, "a", "one")
    services.services().repo.allocate_seq("acme", "lobby", int(time.time() * 1000))
    assert _history(world, "a", afterSeq=1)["hasMore"] is True
    monkeypatch.setattr(history, "SETTLE_MS", 0)
    page = _history(world, "a", afterSeq=1)
    assert (page["messages"], page["latestSeq"], page["hasMore"]) == ([], 2, False)


def test_room_publish_is_sequenced_and_stored_like_a_message(world: World) -> None:
    _room(world, ("a", "alice"))
    _send(world, "a", "first")
    out = world.call(
        "publish", {"tenantId": "acme", "target": {"roomId": "lobby"}, "event": "e", "data": 1}
    )
    assert out["seq"] == 2
    page = _history(world, "a", afterSeq=1)
    assert page["messages"] == [
        {
            "type": "event",
            "target": {"roomId": "lobby"},
            "event": "e",
            "messageId": out["messageId"],
            "seq": 2,
            "data": 1,
        }
    ]
    ephemeral = world.call(
        "publish",
        {
            "tenantId": "acme",
            "target": {"roomId": "lobby"},
            "event": "tick",
            "data": 2,
            "ephemeral": True,
        },
    )
    assert "seq" not in ephemeral and _history(world, "a", afterSeq=2)["messages"] == []


# -- refreshToken ---------------------------------------------------------------------------


def _token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "alice",
        "tenant_id": "acme",
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "iat": now,
        "exp": now + 7200,
        **overrides,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, DEV_SECRET, "HS256")


def _stored(world: World, cid: str) -> dict[str, Any]:
    item: dict[str, Any] = world.dynamodb.get_item(
        TableName=world.table, Key={"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}}
    )["Item"]
    return item


def test_refresh_token_replaces_the_expiry_in_band(world: World) -> None:
    world.connect("a", exp=int(time.time()) + 60)
    world.act("a", {"action": "joinRoom", "roomId": "lobby"})
    exp = int(time.time()) + 7200
    reply = world.act("a", {"action": "refreshToken", "token": _token(exp=exp)})
    assert reply["type"] == "ack", reply
    assert reply["expiresAt"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(exp)))
    assert int(_stored(world, "a")["tokenExp"]["N"]) == exp
    memberships = [i for i in world.items() if i["SK"]["S"] == "CONN#a"]
    assert [int(m["tokenExp"]["N"]) for m in memberships] == [exp]


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (lambda: _token(sub="mallory"), "another user"),
        (lambda: _token(tenant_id="globex"), "another tenant"),
        (lambda: _token(exp=int(time.time()) - 120), "expired"),
        (lambda: _token(iss="https://evil.example"), "wrong issuer"),
        (lambda: _token(aud="other"), "wrong audience"),
        (lambda: jwt.encode({"sub": "alice"}, "x" * 64, "HS512"), "wrong algorithm"),
        (lambda: "garbage", "garbage"),
        (lambda: mint("alice", "acme").rsplit(".", 1)[0] + ".AAAA", "bad signature"),
    ],
)
def test_refresh_token_rejections_keep_the_old_identity(world: World, token: Any, why: str) -> None:
    exp = int(time.time()) + 600
    world.connect("a", exp=exp)
    before = _stored(world, "a")
    reply = world.act("a", {"action": "refreshToken", "token": token()})
    assert reply["type"] == "error" and reply["code"] == "forbidden", (why, reply)
    assert _stored(world, "a") == before


@pytest.mark.parametrize("fields", [{}, {"token": 5}, {"token": ""}])
def test_refresh_token_needs_a_token_string(world: World, fields: dict[str, Any]) -> None:
    world.connect("a")
    reply = world.act("a", {"action": "refreshToken", **fields})
    assert reply["code"] == "invalid_request"


def test_a_narrower_rooms_claim_leaves_the_rooms_it_no_longer_allows(world: World) -> None:
    _room(world, ("a", "alice"), ("b", "bob"))
    world.act("a", {"action": "joinRoom", "roomId": "team-1"})
    world.transport.sent.clear()
    reply = world.act("a", {"action": "refreshToken", "token": _token(rooms=["team-*"])})
    assert reply["type"] == "ack"
    assert world.transport.frames("b", "presence") == [
        {"type": "presence", "roomId": "lobby", "event": "leave", "userId": "alice"}
    ]
    assert world.act("a", {"action": "sendMessage", "roomId": "lobby", "data": 1})["code"] == (
        "forbidden"
    )
    assert world.act("a", {"action": "sendMessage", "roomId": "team-1", "data": 1})["seq"] == 1


# -- token expiry for listeners --------------------------------------------------------------


def test_no_frame_reaches_a_listener_whose_token_expired(world: World) -> None:
    _room(world, ("a", "alice"), ("b", "bob"), ("c", "carol"))
    past = int(time.time()) - 1
    for item in world.items():  # bob's token expired while he only listens
        if item.get("connectionId", {}).get("S") == "b":
            world.dynamodb.update_item(
                TableName=world.table,
                Key={"PK": item["PK"], "SK": item["SK"]},
                UpdateExpression="SET tokenExp = :past",
                ExpressionAttributeValues={":past": {"N": str(past)}},
            )
    _send(world, "a", "secret")
    assert world.transport.frames("b", "message") == []
    assert "b" in world.transport.deleted  # closed, like a gone connection is pruned
    assert not [i for i in world.items() if i.get("connectionId", {}).get("S") == "b"]
    assert {"type": "presence", "roomId": "lobby", "event": "leave", "userId": "bob"} in (
        world.transport.frames("c", "presence")
    )


# -- no dropped recipients -------------------------------------------------------------------


def test_a_recipient_still_throttled_on_the_direct_path_goes_to_the_fanout_queue(
    world: World,
) -> None:
    _room(world, ("a", "alice"), ("b", "bob"), ("c", "carol"))
    world.transport.status["b"] = 429  # every in-process retry answered 429
    ack = _send(world, "a", "hello")
    assert len(world.transport.frames("c", "message")) == 1
    records = [json.loads(r["body"]) for r in _wait_records(world)]  # after its delay
    assert [(job["recipients"], job["attempt"]) for job in records] == [(["b"], 1)]
    assert records[0]["frame"]["messageId"] == ack["messageId"]
    world.transport.status["b"] = 200
    assert world.call("fanout_worker", {"Records": _wait_records_raw(records)}) == {
        "batchItemFailures": []
    }
    assert [f["messageId"] for f in world.transport.frames("b", "message")] == [ack["messageId"]]


def _wait_records_raw(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"messageId": str(i), "body": json.dumps(job), "eventSource": "aws:sqs"}
        for i, job in enumerate(jobs)
    ]
