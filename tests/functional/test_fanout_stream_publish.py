"""Large rooms through SQS, TTL cleanup from the stream, and server-side publish."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.functional.conftest import World


def _big_room(world: World, n: int, tenant: str = "acme") -> list[str]:
    cids = [f"m{i}" for i in range(n)]
    for i, cid in enumerate(cids):
        world.connect(cid, f"user{i}", tenant)
        world.act(cid, {"action": "joinRoom", "roomId": "big"})
    # presence joins above the threshold went through the queue too: deliver them first
    assert world.call("fanout_worker", {"Records": _sqs_records(world)}) == {
        "batchItemFailures": []
    }
    world.transport.sent.clear()
    return cids


def _sqs_records(world: World, env: str = "FANOUT_QUEUE_URL") -> list[dict[str, Any]]:
    records = []
    while True:
        out = world.sqs.receive_message(QueueUrl=world.queues[env], MaxNumberOfMessages=10)
        msgs = out.get("Messages", [])
        if not msgs:
            return records
        for m in msgs:
            records.append(
                {
                    "messageId": m["MessageId"],
                    "body": m["Body"],
                    "receiptHandle": m["ReceiptHandle"],
                    "eventSource": "aws:sqs",
                }
            )


def test_room_above_threshold_is_enqueued_and_acked_at_once(world: World) -> None:
    cids = _big_room(world, 8)  # threshold is 5 in these tests
    ack = world.act("m0", {"action": "sendMessage", "roomId": "big", "data": "hello"})
    assert ack["type"] == "ack"
    assert world.transport.frames("m1", "message") == []  # nothing sent yet
    records = _sqs_records(world)
    assert records
    recipients = [r for rec in records for r in json.loads(rec["body"])["recipients"]]
    assert sorted(recipients) == sorted(cids[1:])  # everyone but the sender
    assert all(len(rec["body"].encode()) < 200 * 1024 for rec in records)
    out = world.call("fanout_worker", {"Records": records})
    assert out == {"batchItemFailures": []}
    for cid in cids[1:]:
        (msg,) = world.transport.frames(cid, "message")
        assert msg["messageId"] == ack["messageId"] and msg["data"] == "hello"


def test_worker_retries_only_failed_recipients(world: World) -> None:
    cids = _big_room(world, 8)
    world.transport.status["m3"] = 500  # keeps failing within this attempt
    world.act("m0", {"action": "sendMessage", "roomId": "big", "data": "x"})
    out = world.call("fanout_worker", {"Records": _sqs_records(world)})
    assert out == {"batchItemFailures": []}  # the retry was re-enqueued, not the batch
    delivered_once = {cid: len(world.transport.frames(cid, "message")) for cid in cids[1:]}
    assert delivered_once == {cid: (0 if cid == "m3" else 1) for cid in cids[1:]}
    world.transport.status["m3"] = 200
    world.sqs.set_queue_attributes(
        QueueUrl=world.queues["FANOUT_QUEUE_URL"], Attributes={"DelaySeconds": "0"}
    )
    retry = _wait_records(world)
    assert [json.loads(r["body"])["recipients"] for r in retry] == [["m3"]]
    assert json.loads(retry[0]["body"])["attempt"] == 1
    assert world.call("fanout_worker", {"Records": retry}) == {"batchItemFailures": []}
    for cid in cids[1:]:
        assert len(world.transport.frames(cid, "message")) == 1  # nobody got it twice


def _wait_records(world: World, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Re-enqueued jobs carry a short delay; poll (bounded) until they are visible."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = _sqs_records(world)
        if records:
            return records
        time.sleep(0.2)
    raise AssertionError("no retry job became visible")


def test_worker_reports_malformed_and_exhausted_jobs_as_failures(world: World) -> None:
    _big_room(world, 2)
    exhausted = json.dumps(
        {
            "v": 1,
            "endpoint": "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
            "frame": "{}",
            "recipients": ["m1"],
            "kind": "message",
            "attempt": 3,
        }
    )
    world.transport.status["m1"] = 500
    records = [
        {"messageId": "bad-json", "body": "{nope"},
        {"messageId": "bad-shape", "body": json.dumps({"v": 1, "recipients": "all"})},
        {"messageId": "foreign", "body": exhausted.replace("abc123", "attacker")},
        {"messageId": "exhausted", "body": exhausted},
    ]
    out = world.call("fanout_worker", {"Records": records})
    assert sorted(f["itemIdentifier"] for f in out["batchItemFailures"]) == [
        "bad-json",
        "bad-shape",
        "exhausted",
        "foreign",
    ]


def test_gone_connections_found_by_the_worker_are_pruned(world: World) -> None:
    _big_room(world, 7)
    world.transport.status["m2"] = 410
    world.act("m0", {"action": "sendMessage", "roomId": "big", "data": "x"})
    world.call("fanout_worker", {"Records": _sqs_records(world)})
    keys = {(i["PK"]["S"], i["SK"]["S"]) for i in world.items()}
    assert ("CONN#m2", "META") not in keys and ("ROOM#acme#big", "CONN#m2") not in keys
    assert ("CONN#m0", "META") in keys


def _ttl_record(item: dict[str, Any], seq: str = "1") -> dict[str, Any]:
    return {
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "Keys": {"PK": item["PK"], "SK": item["SK"]},
            "OldImage": item,
            "SequenceNumber": seq,
        },
    }


def _expire(world: World, cid: str) -> dict[str, Any]:
    """Delete the connection item as DynamoDB's TTL would, returning its old image."""
    key = {"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}}
    return world.dynamodb.delete_item(TableName=world.table, Key=key, ReturnValues="ALL_OLD")[
        "Attributes"
    ]


def test_stream_cleanup_of_ttl_deletion_and_replay_changes_nothing(world: World) -> None:
    for cid, user in (("a1", "alice"), ("b1", "bob")):
        world.connect(cid, user)
        world.act(cid, {"action": "joinRoom", "roomId": "lobby"})
        world.act(cid, {"action": "joinRoom", "roomId": "ops"})
    event = {"Records": [_ttl_record(_expire(world, "a1"))]}
    assert world.call("stream_cleanup", event) == {"batchItemFailures": []}
    assert not [i for i in world.items() if i["SK"]["S"] == "CONN#a1"]
    leaves = [f for f in world.transport.frames("b1", "presence") if f["event"] == "leave"]
    assert sorted(f["roomId"] for f in leaves) == ["lobby", "ops"]
    assert world.transport.deleted == ["a1"]
    snapshot, sent = world.items(), world.transport.calls
    assert world.call("stream_cleanup", event) == {"batchItemFailures": []}
    assert world.items() == snapshot
    assert len([f for f in world.transport.frames("b1", "presence") if f["event"] == "leave"]) == 2
    assert world.transport.calls == sent + 1  # only the idempotent DeleteConnection (410)


def test_stream_cleanup_ignores_user_removes(world: World) -> None:
    world.connect("a1")
    world.act("a1", {"action": "joinRoom", "roomId": "lobby"})
    record = _ttl_record(_expire(world, "a1"))
    record["userIdentity"] = None
    world.call("stream_cleanup", {"Records": [record, {**record, "eventName": "MODIFY"}]})
    assert [i for i in world.items() if i["SK"]["S"] == "CONN#a1"]  # membership untouched
    assert world.transport.deleted == []


def test_publish_to_room_user_and_tenant_stays_in_tenant(world: World) -> None:
    for cid, user, tenant in (
        ("a1", "alice", "acme"),
        ("a2", "alice", "acme"),
        ("b1", "bob", "acme"),
        ("e1", "eve", "evil"),
    ):
        world.connect(cid, user, tenant)
        world.act(cid, {"action": "joinRoom", "roomId": "lobby"})
    world.transport.sent.clear()
    room = world.call(
        "publish",
        {"tenantId": "acme", "target": {"roomId": "lobby"}, "event": "tick", "data": {"n": 1}},
    )
    assert room["ok"] and room["delivered"] == 3
    user = world.call(
        "publish", {"tenantId": "acme", "target": {"userId": "alice"}, "event": "dm", "data": None}
    )
    assert user["delivered"] == 2
    tenant = world.call(
        "publish", {"tenantId": "acme", "target": {"tenant": True}, "event": "all", "data": [1]}
    )
    assert tenant["delivered"] == 3
    assert world.transport.frames("e1") == []
    got = world.transport.frames("a1", "event")
    assert got == [
        {
            "type": "event",
            "target": {"roomId": "lobby"},
            "event": "tick",
            "messageId": room["messageId"],
            "seq": 1,  # room events are numbered and stored like messages
            "data": {"n": 1},
        },
        {
            "type": "event",
            "target": {"userId": "alice"},
            "event": "dm",
            "messageId": user["messageId"],
            "data": None,
        },
        {
            "type": "event",
            "target": {"tenant": True},
            "event": "all",
            "messageId": tenant["messageId"],
            "data": [1],
        },
    ]
    assert room["seq"] == 1 and "seq" not in user and "seq" not in tenant
    assert len(world.transport.frames("b1", "event")) == 2


def test_publish_rejects_invalid_payloads_and_delivers_nothing(world: World) -> None:
    world.connect("a1")
    bad = [
        [],
        {"target": {"tenant": True}, "event": "e", "data": 1},
        {"tenantId": "acme", "target": {"roomId": "a", "userId": "b"}, "event": "e", "data": 1},
        {"tenantId": "acme", "target": {"tenant": "yes"}, "event": "e", "data": 1},
        {"tenantId": "acme", "target": {"roomId": "bad room"}, "event": "e", "data": 1},
        {"tenantId": "acme", "target": {"tenant": True}, "event": "", "data": 1},
        {"tenantId": "acme", "target": {"tenant": True}, "event": "e"},
        {"tenantId": "acme", "target": {"tenant": True}, "event": "e", "data": 1, "x": 2},
        {"tenantId": "acme", "target": {"tenant": True}, "event": "e", "data": "x" * 140000},
    ]
    for payload in bad:
        out = world.call("publish", payload)
        assert out["ok"] is False and out["error"]["code"] in {
            "invalid_request",
            "payload_too_large",
        }
        assert out["error"]["message"]
    assert world.transport.calls == 0


@pytest.mark.parametrize("bad_id", ["bad tenant!", "a/b", "a#b", "a,b", "é", "x" * 129, ""])
def test_publish_ids_follow_the_authorizers_rule(world: World, bad_id: str) -> None:
    """One rule for tenant and user ids: a backend cannot name an id no token can carry."""
    for payload in (
        {"tenantId": bad_id, "target": {"tenant": True}, "event": "e", "data": 1},
        {"tenantId": "acme", "target": {"userId": bad_id}, "event": "e", "data": 1},
    ):
        out = world.call("publish", payload)
        assert out["ok"] is False and out["error"]["code"] == "invalid_request"
        assert "A-Z a-z 0-9" in out["error"]["message"]


def test_publish_from_sqs_reports_bad_records(world: World) -> None:
    world.connect("a1")
    good = json.dumps({"tenantId": "acme", "target": {"tenant": True}, "event": "e", "data": 1})
    out = world.call(
        "publish",
        {
            "Records": [
                {"messageId": "1", "body": good, "eventSource": "aws:sqs"},
                {"messageId": "2", "body": "{broken", "eventSource": "aws:sqs"},
            ]
        },
    )
    assert out == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert len(world.transport.frames("a1", "event")) == 1


def test_presence_leave_of_a_large_room_goes_through_the_fanout_queue(world: World) -> None:
    """Every delivery takes the dispatcher: a leave in a room above the threshold is queued
    like a message (it used to bypass the dispatcher and post to every member inline)."""
    cids = _big_room(world, 8)
    world.act("m7", {"action": "leaveRoom", "roomId": "big"})
    assert all(world.transport.frames(cid, "presence") == [] for cid in cids[:7])
    records = _sqs_records(world)
    assert [json.loads(r["body"])["kind"] for r in records] == ["presence"]
    assert world.call("fanout_worker", {"Records": records}) == {"batchItemFailures": []}
    for cid in cids[:7]:
        (leave,) = world.transport.frames(cid, "presence")
        assert leave == {"type": "presence", "roomId": "big", "event": "leave", "userId": "user7"}


def test_disconnect_from_a_large_room_announces_through_the_queue(world: World) -> None:
    cids = _big_room(world, 8)
    world.disconnect("m3")
    assert all(world.transport.frames(cid, "presence") == [] for cid in cids)
    records = _sqs_records(world)
    assert world.call("fanout_worker", {"Records": records}) == {"batchItemFailures": []}
    got = {cid: world.transport.frames(cid, "presence") for cid in cids if cid != "m3"}
    assert all([f["event"] for f in frames] == ["leave"] for frames in got.values())
