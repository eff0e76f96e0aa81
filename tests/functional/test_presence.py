"""Presence at scale (issue 12): exact transitions under concurrency, coalesced presence for
large rooms, member counts and paging, and tenant isolation of all of it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from tests.functional.conftest import World
from tests.helpers import moto_table_items


@pytest.fixture
def dynamodb_transport() -> str:
    """The production client only: threads and queues make these the slow ones."""
    return "fast"


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same instant (a barrier releases every thread at once)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _presence(world: World, cid: str) -> list[tuple[str, str]]:
    return [(f["event"], f["userId"]) for f in world.transport.frames(cid, "presence")]


# -- exact transitions ------------------------------------------------------------------
def test_two_connections_of_a_user_joining_and_leaving_at_once_announce_once(
    world: World,
) -> None:
    """The race of issue 12: 30 trials of concurrent join, then concurrent leave (and
    concurrent disconnects), each heard exactly once by the other member."""
    world.connect("w", "watcher")
    world.act("w", {"action": "joinRoom", "roomId": "lobby"})
    for trial in range(30):
        a, b = f"a{trial}", f"b{trial}"
        world.connect(a, "alice")
        world.connect(b, "alice")
        join = {"action": "joinRoom", "roomId": "lobby"}
        acks = _together(partial(world.act, a, join), partial(world.act, b, join))
        assert [ack["type"] for ack in acks] == ["ack", "ack"]
        if trial % 2:
            leave = {"action": "leaveRoom", "roomId": "lobby"}
            _together(partial(world.act, a, leave), partial(world.act, b, leave))
        else:
            _together(partial(world.disconnect, a), partial(world.disconnect, b))
        assert _presence(world, "w") == [("join", "alice"), ("leave", "alice")] * (trial + 1)
    ack = world.act("w", {"action": "getPresence", "roomId": "lobby"})
    assert ack["users"] == [{"userId": "watcher"}] and ack["memberCount"] == 1


def test_a_second_connection_of_an_online_user_is_not_announced(world: World) -> None:
    world.connect("w", "watcher")
    world.connect("a1", "alice")
    world.connect("a2", "alice")
    for cid in ("w", "a1", "a2"):
        world.act(cid, {"action": "joinRoom", "roomId": "lobby"})
    world.disconnect("a1")
    assert _presence(world, "w") == [("join", "alice")]
    world.disconnect("a2")
    assert _presence(world, "w") == [("join", "alice"), ("leave", "alice")]


# -- member count and paging ----------------------------------------------------------
def test_members_are_counted_and_paged_with_a_cursor(world: World) -> None:
    users = [f"user{i:02d}" for i in range(7)]
    for i, user in enumerate(users):
        world.connect(f"c{i}", user)
        world.connect(f"d{i}", user)  # a second connection: counted once, listed once
        world.act(f"c{i}", {"action": "joinRoom", "roomId": "big"})
        world.act(f"d{i}", {"action": "joinRoom", "roomId": "big"})
    first = world.act("c0", {"action": "joinRoom", "roomId": "big", "limit": 3})
    assert first["memberCount"] == 7 and len(first["members"]) == 3
    listed, cursor = [m["userId"] for m in first["members"]], first["nextCursor"]
    assert first["truncated"] is True
    while cursor:
        body = {"action": "getPresence", "roomId": "big", "limit": 3, "cursor": cursor}
        page = world.act("c0", body)
        assert page["memberCount"] == 7
        listed += [u["userId"] for u in page["users"]]
        cursor = page.get("nextCursor")
        assert ("truncated" in page) == (cursor is not None)
    assert listed == users  # every user once, in id order
    whole = world.act("c0", {"action": "getPresence", "limit": 4})  # the tenant, paged too
    tenant = [u["userId"] for u in whole["users"]]
    page = world.act("c0", {"action": "getPresence", "cursor": whole["nextCursor"]})
    assert tenant + [u["userId"] for u in page["users"]] == users
    assert "memberCount" not in whole and "nextCursor" not in page


@pytest.mark.parametrize(
    "body",
    [
        {"action": "getPresence", "roomId": "big", "cursor": "bad cursor!"},
        {"action": "getPresence", "cursor": 7},
        {"action": "getPresence", "limit": 0},
        {"action": "joinRoom", "roomId": "big", "limit": 501},
        {"action": "joinRoom", "roomId": "big", "limit": True},
    ],
)
def test_bad_paging_fields_are_refused_and_change_nothing(
    world: World, body: dict[str, Any]
) -> None:
    world.connect("c1")
    before = moto_table_items(world.table)
    reply = world.act("c1", body)
    assert reply["type"] == "error" and reply["code"] == "invalid_request", reply
    assert moto_table_items(world.table) == before


# -- coalesced presence (large rooms) ---------------------------------------------------
@pytest.fixture
def large(world: World, monkeypatch: pytest.MonkeyPatch, fresh: Callable[[], None]) -> World:
    """Rooms of more than 2 users get coalesced presence (a flush per 1 s interval)."""
    monkeypatch.setenv("PRESENCE_COALESCE_THRESHOLD", "2")
    monkeypatch.setenv("PRESENCE_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("FANOUT_THRESHOLD", "100")  # frames go direct: the transport sees them
    fresh()
    return world


def _flush_jobs(world: World) -> list[dict[str, Any]]:
    """Receive every queued job (waiting out the flush delay); return the flush jobs, having
    run them through the fan-out worker as Lambda would."""
    url = world.queues["FANOUT_QUEUE_URL"]
    records = []
    while True:
        out = world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        messages = out.get("Messages", [])
        if not messages:
            break
        for m in messages:
            records.append({"messageId": m["MessageId"], "body": m["Body"]})
            world.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if records:
        assert world.call("fanout_worker", {"Records": records}) == {"batchItemFailures": []}
    return [json.loads(r["body"]) for r in records]


def _changes(world: World, cid: str) -> list[tuple[list[str], list[str]]]:
    return [
        (f["joined"], f["left"]) for f in world.transport.frames(cid, "presence") if "joined" in f
    ]


def test_a_large_room_gets_one_presence_frame_per_interval(large: World) -> None:
    world = large
    for i in range(2):  # a small room: one frame per transition, as in v1
        world.connect(f"c{i}", f"u{i}")
        world.act(f"c{i}", {"action": "joinRoom", "roomId": "hall"})
    assert _presence(world, "c0") == [("join", "u1")]
    for i in range(2, 8):  # the room grows past the threshold: changes are pending
        world.connect(f"c{i}", f"u{i}")
        ack = world.act(f"c{i}", {"action": "joinRoom", "roomId": "hall"})
        assert ack["memberCount"] == i + 1
    world.disconnect("c1")
    assert _changes(world, "c0") == [] and len(_presence(world, "c0")) == 1
    jobs = _flush_jobs(world)
    assert [j["type"] for j in jobs] == ["presenceFlush"], "one flush scheduled per interval"
    expected = ([f"u{i}" for i in range(2, 8)], ["u1"])
    for cid in ("c0", *(f"c{i}" for i in range(2, 8))):
        assert _changes(world, cid) == [expected], cid
    assert _flush_jobs(world) == [], "nothing changed since: no flush, no frame"
    world.disconnect("c2")  # the next change schedules the next flush
    assert len(_flush_jobs(world)) == 1
    assert _changes(world, "c0") == [expected, ([], ["u2"])]


def _fill_hall(world: World) -> None:
    """Four users in `hall` (coalesced past two), their joins flushed."""
    for i in range(4):
        world.connect(f"c{i}", f"u{i}")
        world.act(f"c{i}", {"action": "joinRoom", "roomId": "hall"})
    _flush_jobs(world)


def test_a_user_who_joins_and_leaves_inside_an_interval_is_not_announced(
    large: World,
) -> None:
    world = large
    _fill_hall(world)
    world.connect("x", "visitor")
    world.act("x", {"action": "joinRoom", "roomId": "hall"})
    world.act("x", {"action": "leaveRoom", "roomId": "hall"})
    world.connect("y", "u0")  # and an online user's second connection comes and goes
    world.act("y", {"action": "joinRoom", "roomId": "hall"})
    world.disconnect("y")
    world.disconnect("c3")  # while a real change happens in the same interval
    _flush_jobs(world)
    assert _changes(world, "c0")[-1] == ([], ["u3"])
    sks = {i["SK"]["S"] for i in moto_table_items(world.table) if "hall" in i["PK"]["S"]}
    assert "USER#visitor" not in sks and "USER#u3" not in sks
    assert not any(sk.startswith("PENDING#") for sk in sks), "the flush consumed its changes"
    ack = world.act("c0", {"action": "getPresence", "roomId": "hall"})
    assert ack["memberCount"] == 3 and [u["userId"] for u in ack["users"]] == ["u0", "u1", "u2"]


def test_a_user_who_leaves_and_comes_back_inside_an_interval_is_not_announced(
    large: World,
) -> None:
    world = large
    _fill_hall(world)
    world.act("c3", {"action": "leaveRoom", "roomId": "hall"})
    world.act("c3", {"action": "joinRoom", "roomId": "hall"})
    _flush_jobs(world)
    assert _changes(world, "c0") == [(["u2", "u3"], [])], "u3 is still online: no change"
    world.disconnect("c3")
    _flush_jobs(world)
    assert _changes(world, "c0")[-1] == ([], ["u3"])


def test_coalesced_presence_stays_in_its_tenant(large: World) -> None:
    world = large
    for tenant in ("acme", "globex"):
        for i in range(4):
            cid = f"{tenant}{i}"
            world.connect(cid, f"u{i}", tenant)
            world.act(cid, {"action": "joinRoom", "roomId": "hall"})
    jobs = _flush_jobs(world)
    assert sorted(j["tenantId"] for j in jobs) == ["acme", "globex"]
    for tenant in ("acme", "globex"):
        assert _changes(world, f"{tenant}0") == [(["u2", "u3"], [])]
        count = world.act(f"{tenant}0", {"action": "getPresence", "roomId": "hall"})
        assert count["memberCount"] == 4


def test_a_malformed_flush_job_fails_to_the_dlq(large: World) -> None:
    body = '{"v":1,"type":"presenceFlush","endpoint":"https://x","tenantId":"a b","roomId":"r"}'
    out = large.call("fanout_worker", {"Records": [{"messageId": "m1", "body": body}]})
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
