"""Rate limits on sendMessage through the real handlers on moto (both DynamoDB clients):
per connection, per tenant across connections and containers, no state change when
refused, tenant isolation, and the claim and configuration overrides.

The clock is the edge's (`wscore.edge.time`), replaced by a fake one: nothing sleeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bench.rate_limits import CountingClient

from tests.functional.conftest import World
from tests.helpers import moto_table_items
from wscore import edge
from wscore.errors import RateLimited
from wscore.events import Identity
from wscore.limits import RateLimiter
from wscore.repository import RATE_SK, Repository, rate_pk
from wscore.services import services

OFF = {"PER_SECOND": "0"}


class FakeClock:
    """`time.time()` for the edge: whole seconds to start with, moved by the test."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(edge, "time", fake)
    return fake


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch, fresh: Callable[[], None]) -> Callable[..., None]:
    """Set the limits (before the first handler call, or rebuild the services after)."""

    def set_limits(
        connection: dict[str, str] | None = None,
        tenant: dict[str, str] | None = None,
        tenants: dict[str, Any] | None = None,
    ) -> None:
        for prefix, values in (("CONNECTION", connection), ("TENANT", tenant)):
            for name, value in (values or {}).items():
                monkeypatch.setenv(f"RATE_LIMIT_{prefix}_{name}", value)
        if tenants is not None:
            monkeypatch.setenv("TENANT_RATE_LIMITS", json.dumps(tenants))
        fresh()

    return set_limits


def _room(world: World, *members: tuple[str, str, str], room: str = "lobby") -> None:
    for cid, user, tenant in members:
        world.connect(cid, user, tenant)
        assert world.act(cid, {"action": "joinRoom", "roomId": room})["type"] == "ack"
    world.transport.sent.clear()


def _send(world: World, cid: str, data: Any = "hi", **kw: Any) -> dict[str, Any]:
    body = {"action": "sendMessage", "roomId": "lobby", "data": data, "requestId": "r"}
    reply: dict[str, Any] = world.act(cid, body, **kw)
    return reply


def _acked(reply: dict[str, Any]) -> bool:
    assert reply["type"] == "ack" or reply["code"] == "rate_limited", reply
    return bool(reply["type"] == "ack")


def test_a_connection_sends_its_burst_then_is_told_when_to_retry(
    world: World, clock: FakeClock, limits: Callable[..., None]
) -> None:
    limits(connection={"PER_SECOND": "8", "BURST": "3"}, tenant=OFF)  # T = 125 ms
    _room(world, ("a1", "alice", "acme"), ("b1", "bob", "acme"))
    assert [_send(world, "a1", n)["seq"] for n in range(3)] == [1, 2, 3]
    refused = _send(world, "a1", "too soon")
    assert refused == {
        "type": "error",
        "action": "sendMessage",
        "requestId": "r",
        "code": "rate_limited",
        "message": "too many messages: this connection may send 8 per second, bursts of 3",
        "retryAfterMs": 125,
    }
    clock.advance(0.0625)
    assert _send(world, "a1", "still too soon")["retryAfterMs"] == 63
    clock.advance(0.0625)
    assert _send(world, "a1", "in time")["seq"] == 4  # no seq was taken by the refusals
    assert [m["data"] for m in world.transport.frames("b1", "message")] == [0, 1, 2, "in time"]


def test_a_refused_message_changes_nothing(
    world: World, clock: FakeClock, limits: Callable[..., None]
) -> None:
    limits(connection={"PER_SECOND": "1", "BURST": "2"}, tenant={"PER_SECOND": "1", "BURST": "3"})
    _room(world, ("a1", "alice", "acme"), ("a2", "amy", "acme"), ("b1", "bob", "acme"))

    def refused(cid: str, whose: str) -> None:
        before, calls = moto_table_items(world.table), world.transport.calls
        reply = _send(world, cid, "refused")
        assert reply["code"] == "rate_limited" and whose in reply["message"], reply
        assert moto_table_items(world.table) == before, "no seq, no history item, no bucket"
        assert world.transport.calls == calls, "nothing delivered"

    assert _acked(_send(world, "a1", 1)) and _acked(_send(world, "a1", 2))
    refused("a1", "this connection")
    assert _acked(_send(world, "a2", 3))  # the tenant's last token
    refused("a2", "your tenant")
    clock.advance(1)
    assert _send(world, "a2", 4)["seq"] == 4
    stored = world.act("b1", {"action": "getHistory", "roomId": "lobby"})
    assert [m["data"] for m in stored["messages"]] == [1, 2, 3, 4]
    assert [m["data"] for m in world.transport.frames("b1", "message")] == [1, 2, 3, 4]


def test_the_tenant_limit_spans_its_connections(
    world: World, clock: FakeClock, limits: Callable[..., None]
) -> None:
    limits(connection=OFF, tenant={"PER_SECOND": "8", "BURST": "2"})  # T = tau = 125 ms
    _room(world, ("a1", "alice", "acme"), ("a2", "amy", "acme"))
    assert _acked(_send(world, "a1")) and _acked(_send(world, "a2"))
    for cid in ("a1", "a2"):
        refused = _send(world, cid)
        assert refused["code"] == "rate_limited" and refused["retryAfterMs"] == 125
        assert refused["message"] == (
            "too many messages: your tenant may send 8 per second, bursts of 2"
        )
    clock.advance(0.0625)  # 62 ms: the hint comes from the stored bucket, to the ms
    assert _send(world, "a2")["retryAfterMs"] == 63
    clock.advance(0.0625)
    assert _acked(_send(world, "a2"))
    assert not _acked(_send(world, "a1"))


def test_tenants_are_isolated(world: World, clock: FakeClock, limits: Callable[..., None]) -> None:
    limits(connection=OFF, tenants={"acme": {"perSecond": 1, "burst": 1}})
    _room(world, ("a1", "alice", "acme"), ("x1", "xena", "globex"), ("x2", "xavi", "globex"))
    assert _acked(_send(world, "a1"))
    assert [_acked(_send(world, "a1")) for _ in range(3)] == [False] * 3
    assert all(_acked(_send(world, "x1", n)) for n in range(30))  # the default: 100/s, 200
    assert len(world.transport.frames("x2", "message")) == 30
    assert world.transport.frames("a1", "message") == []
    buckets = {
        item["PK"]["S"]: int(item["tat"]["N"])
        for item in moto_table_items(world.table)
        if item["SK"]["S"] == RATE_SK
    }
    now_ms = int(clock.now * 1000)
    assert buckets == {rate_pk("acme"): now_ms + 1000, rate_pk("globex"): now_ms + 30 * 10}


def test_a_claim_beats_configuration_which_beats_the_default(
    world: World, clock: FakeClock, limits: Callable[..., None]
) -> None:
    limits(
        connection=OFF,
        tenant={"PER_SECOND": "2", "BURST": "2"},
        tenants={"acme": {"perSecond": 1, "burst": 1}, "initech": {"perSecond": 1, "burst": 3}},
    )
    claim = json.dumps({"perSecond": 4, "burst": 4})
    world.connect("a1", "alice", "acme", rate_limit=claim)
    world.connect("i1", "ivy", "initech")
    world.connect("g1", "gus", "globex")
    assert world.act("a1", {"action": "joinRoom", "roomId": "lobby"}, rate_limit=claim)
    for cid in ("i1", "g1"):
        assert world.act(cid, {"action": "joinRoom", "roomId": "lobby"})["type"] == "ack"

    def accepted(cid: str, **kw: Any) -> int:
        return sum(_acked(_send(world, cid, **kw)) for _ in range(6))

    assert accepted("a1", rate_limit=claim) == 4  # the claim, not acme's configured 1
    assert accepted("i1") == 3  # configuration (initech's claim-less tokens)
    assert accepted("g1") == 2  # the default


def test_only_valid_send_messages_take_a_token(
    world: World, clock: FakeClock, limits: Callable[..., None]
) -> None:
    limits(connection={"PER_SECOND": "1", "BURST": "2"}, tenant=OFF)
    _room(world, ("a1", "alice", "acme"))
    invalid = world.act("a1", {"action": "sendMessage", "roomId": "lobby"})
    assert invalid["code"] == "invalid_request"
    for _ in range(3):  # other actions are not limited
        assert world.act("a1", {"action": "heartbeat"})["type"] == "ack"
        assert world.act("a1", {"action": "getHistory", "roomId": "lobby"})["type"] == "ack"
    ephemeral = {"action": "sendMessage", "roomId": "lobby", "data": 1, "ephemeral": True}
    assert _acked(world.act("a1", ephemeral))  # ephemeral messages count too
    assert _acked(_send(world, "a1"))
    assert not _acked(_send(world, "a1"))


# -- two containers on one table -------------------------------------------------------------
@pytest.fixture
def containers(world: World, limits: Callable[..., None]) -> Iterator[list[Any]]:
    """Two containers' tenant limiters (8/s, bursts of 5) on the same table."""
    limits(connection=OFF, tenant={"PER_SECOND": "8", "BURST": "5"})
    svc = services()
    out = []
    for _ in range(2):
        client = CountingClient(svc.repo._db)
        out.append((RateLimiter(svc.config.rate_limits, Repository(client, world.table)), client))
    yield out


def _check(limiter: RateLimiter, now_ms: int, tenant: str = "acme") -> int:
    """0 when accepted, else the retry hint."""
    try:
        limiter.check("c", Identity("u", tenant, 4102444800), now_ms / 1000)
    except RateLimited as exc:
        assert exc.retry_after_ms is not None
        return exc.retry_after_ms
    return 0


def test_the_tenant_limit_is_exact_across_containers(containers: list[Any]) -> None:
    (a, a_db), (b, b_db) = containers
    t0 = int(time.time()) * 1000
    order = [a, b, a, b, a, b, a, b]
    assert [_check(limiter, t0) for limiter in order] == [0, 0, 0, 0, 0, 125, 125, 125]
    # Writes: A guesses right every time (1 each); B's first guess (an idle bucket) is
    # wrong (2); a refusal is one refused write.
    assert (a_db.updates, b_db.updates) == (4, 5)
    # 125 ms later one token is back, for whichever container asks first.
    assert [_check(limiter, t0 + 125) for limiter in (b, a)] == [0, 125]


def test_an_idle_bucket_costs_one_write_and_a_wrong_guess_two(containers: list[Any]) -> None:
    (a, a_db), (b, b_db) = containers
    t0 = int(time.time()) * 1000
    assert _check(a, t0) == 0 and a_db.updates == 1  # nothing cached: idle, right
    assert _check(a, t0) == 0 and a_db.updates == 2  # cached tat > now: bursting, right
    idle = t0 + 10_000
    assert _check(a, idle) == 0 and a_db.updates == 3  # cached tat <= now: idle, right
    assert _check(b, idle) == 0 and b_db.updates == 2  # nothing cached: idle, wrong
    assert _check(b, idle) == 0 and b_db.updates == 3  # its cache is right now
    assert _check(a, idle) == 0 and a_db.updates == 4  # bursting, right
    assert _check(a, idle, tenant="globex") == 0 and a_db.updates == 5  # another item
