"""Rate limits (wscore.limits): the GCRA bucket, its validation, the per-connection buckets,
the limiter's order of checks, and their configuration. The clock is always an argument."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wscore.config import Config, rate_limits_from_env
from wscore.errors import ConfigError, Forbidden, RateLimited
from wscore.events import Identity
from wscore.limits import (
    ConnectionBuckets,
    Limit,
    RateLimiter,
    RateLimits,
    gcra,
    limit_from_json,
    limit_of,
)
from wscore.protocol import error
from wscore.repository import RateWrite

T0 = 1_800_000_000_000  # ms


# -- the bucket ------------------------------------------------------------------------------
def test_a_full_bucket_takes_a_burst_then_refuses_until_a_token_refills() -> None:
    limit = Limit(per_second=4, burst=3)  # T = 250 ms, tau = 500 ms
    tat = None
    for _ in range(3):
        verdict = gcra(tat, T0, limit)
        assert verdict.allowed and verdict.retry_after_ms == 0
        tat = verdict.tat_ms
    assert tat == T0 + 750
    refused = gcra(tat, T0, limit)
    assert (refused.allowed, refused.tat_ms, refused.retry_after_ms) == (False, tat, 250)
    assert not gcra(tat, T0 + 249, limit).allowed
    assert gcra(tat, T0 + 249, limit).retry_after_ms == 1
    again = gcra(tat, T0 + 250, limit)
    assert again.allowed and again.tat_ms == T0 + 1000


def test_an_idle_bucket_refills_to_its_burst_and_no_further() -> None:
    limit = Limit(per_second=10, burst=2)
    tat = gcra(gcra(None, T0, limit).tat_ms, T0, limit).tat_ms
    assert not gcra(tat, T0, limit).allowed
    later = T0 + 60_000  # a minute idle: still only `burst` at once
    first = gcra(tat, later, limit)
    second = gcra(first.tat_ms, later, limit)
    third = gcra(second.tat_ms, later, limit)
    assert (first.allowed, second.allowed, third.allowed) == (True, True, False)


def test_a_steady_sender_at_the_rate_is_never_refused() -> None:
    limit = Limit(per_second=10, burst=1)
    tat = None
    for i in range(100):
        verdict = gcra(tat, T0 + i * 100, limit)
        assert verdict.allowed, i
        tat = verdict.tat_ms
    assert not gcra(tat, T0 + 99 * 100 + 50, limit).allowed


@pytest.mark.parametrize(
    ("per_second", "interval_ms"),
    [(10, 100), (1000, 1), (0.5, 2000), (300, 3), (3, 333), (0.001, 1_000_000)],
)
def test_the_interval_is_whole_milliseconds(per_second: float, interval_ms: int) -> None:
    limit = Limit(per_second, 5)
    assert limit.interval_ms == interval_ms and limit.tolerance_ms == 4 * interval_ms


def test_zero_per_second_turns_a_limit_off() -> None:
    assert not Limit(0, 1).enabled and Limit(0.01, 1).enabled


# -- validation ------------------------------------------------------------------------------
def test_limit_from_json() -> None:
    assert limit_from_json({"perSecond": 5, "burst": 10}) == Limit(5.0, 10)
    assert limit_from_json({"perSecond": 0.25, "burst": 1}) == Limit(0.25, 1)
    assert limit_from_json({"perSecond": 0, "burst": 1}) == Limit(0, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10", "must be an object"),
        ({"perSecond": 1}, "must be an object"),
        ({"perSecond": 1, "burst": 1, "x": 1}, "must be an object"),
        ({"perSecond": -0.5, "burst": 1}, "perSecond must be a number from 0"),
        ({"perSecond": 1000.5, "burst": 1}, "perSecond must be a number from 0 (off) to 1000"),
        ({"perSecond": float("nan"), "burst": 1}, "perSecond"),
        ({"perSecond": float("inf"), "burst": 1}, "perSecond"),
        ({"perSecond": None, "burst": 1}, "perSecond"),
        ({"perSecond": False, "burst": 1}, "perSecond"),
        ({"perSecond": 1, "burst": 0}, "burst must be a whole number from 1 to 100000"),
        ({"perSecond": 1, "burst": 1.0}, "burst must be a whole number"),
        ({"perSecond": 1, "burst": True}, "burst must be a whole number"),
        ({"perSecond": 1, "burst": 100_001}, "burst must be a whole number"),
    ],
)
def test_invalid_limits_say_what_is_wrong(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        limit_from_json(value)


def test_limit_of_accepts_the_bounds() -> None:
    assert limit_of(1000, 100_000) == Limit(1000.0, 100_000)
    assert limit_of(0, 1) == Limit(0.0, 1)


# -- per connection, in the container --------------------------------------------------------
def test_connection_buckets_are_per_connection() -> None:
    buckets, limit = ConnectionBuckets(), Limit(1, 2)
    assert [buckets.take("c1", limit, T0) for _ in range(3)] == [0, 0, 1000]
    assert buckets.take("c2", limit, T0) == 0  # another connection has its own bucket
    assert buckets.take("c1", limit, T0 + 999) == 1
    assert buckets.take("c1", limit, T0 + 1000) == 0


def test_a_given_back_token_can_be_taken_again() -> None:
    buckets, limit = ConnectionBuckets(), Limit(1, 1)
    assert buckets.take("c1", limit, T0) == 0
    buckets.give_back("c1", limit)
    assert buckets.take("c1", limit, T0) == 0
    assert buckets.take("c1", limit, T0) == 1000
    buckets.give_back("unknown", limit)  # nothing to give back: no error, no bucket


def test_connection_buckets_forget_the_least_recently_used_first() -> None:
    buckets, limit = ConnectionBuckets(max_entries=2), Limit(1, 1)
    for cid in ("c1", "c2", "c3"):  # c1 is forgotten: its bucket starts full again
        assert buckets.take(cid, limit, T0) == 0
    assert buckets.take("c1", limit, T0) == 0
    assert buckets.take("c3", limit, T0) == 1000  # still remembered
    assert buckets.take("c2", limit, T0) == 0  # forgotten when c1 came back


# -- the limiter -----------------------------------------------------------------------------
class ScriptedRepo:
    """take_rate_token answers from a script (one RateWrite or exception per call)."""

    def __init__(self, *answers: RateWrite | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int, bool]] = []

    def take_rate_token(
        self, tenant_id: str, now_ms: int, interval_ms: int, tolerance_ms: int, *, bursting: bool
    ) -> RateWrite:
        self.calls.append((tenant_id, now_ms, bursting))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


ALICE = Identity("alice", "acme", 4102444800)


def _limiter(repo: ScriptedRepo, **limits: Any) -> RateLimiter:
    return RateLimiter(RateLimits(**limits), repo)  # type: ignore[arg-type] - a stand-in


def test_the_connection_is_checked_first_and_costs_no_write() -> None:
    repo = ScriptedRepo(RateWrite(True, T0 + 10), RateWrite(True, T0 + 20))
    limiter = _limiter(repo, connection=Limit(1, 2), tenant=Limit(100, 200))
    limiter.check("c1", ALICE, T0 / 1000)
    limiter.check("c1", ALICE, T0 / 1000)
    with pytest.raises(RateLimited) as refused:
        limiter.check("c1", ALICE, T0 / 1000)
    assert refused.value.retry_after_ms == 1000
    assert refused.value.message.startswith("too many messages: this connection may send 1 per")
    assert len(repo.calls) == 2  # the third never reached the table


def test_a_tenant_refusal_gives_the_connection_token_back() -> None:
    refused_write = RateWrite(False, T0 + 1000)  # tenant 1/s burst 1, used up at T0
    repo = ScriptedRepo(refused_write, RateWrite(True, T0 + 2000))
    # The connection gets one token per 1,000 s: only a given-back token lets it send again.
    limiter = _limiter(repo, connection=Limit(0.001, 1), tenant=Limit(1, 1))
    with pytest.raises(RateLimited) as refused:
        limiter.check("c1", ALICE, T0 / 1000)
    assert refused.value.retry_after_ms == 1000
    assert "your tenant may send 1 per second, bursts of 1" in refused.value.message
    limiter.check("c1", ALICE, T0 / 1000 + 1)  # the connection's only token was given back


def test_a_failed_tenant_check_gives_the_connection_token_back() -> None:
    repo = ScriptedRepo(RuntimeError("DynamoDB unavailable"), RateWrite(True, T0 + 10))
    limiter = _limiter(repo, connection=Limit(1, 1))
    with pytest.raises(RuntimeError):
        limiter.check("c1", ALICE, T0 / 1000)
    limiter.check("c1", ALICE, T0 / 1000)


def test_limits_of_zero_check_nothing() -> None:
    repo = ScriptedRepo()
    limiter = _limiter(repo, connection=Limit(0, 1), tenant=Limit(0, 1))
    for _ in range(1000):
        limiter.check("c1", ALICE, T0 / 1000)
    assert repo.calls == []


def test_without_the_stored_item_the_hint_is_one_interval() -> None:
    """A client that does not return the item of a refused write: both writes, then T."""
    repo = ScriptedRepo(RateWrite(False, None), RateWrite(False, None), RateWrite(False, None))
    limiter = _limiter(repo, connection=Limit(0, 1), tenant=Limit(4, 2))
    with pytest.raises(RateLimited) as refused:
        limiter.check("c1", ALICE, T0 / 1000)
    assert refused.value.retry_after_ms == 250
    assert [bursting for *_, bursting in repo.calls] == [False, True, False]


def test_the_tenant_limit_is_the_claim_then_configuration_then_the_default() -> None:
    limits = RateLimits(tenant=Limit(100, 200), tenants={"acme": Limit(5, 5)})
    assert limits.tenant_limit(ALICE) == Limit(5, 5)
    claimed = Identity("alice", "acme", 1, rate_limit=Limit(1, 1))
    assert limits.tenant_limit(claimed) == Limit(1, 1)
    assert limits.tenant_limit(Identity("eve", "globex", 1)) == Limit(100, 200)


def test_rate_limited_frames_carry_retry_after_ms() -> None:
    exc = RateLimited("slow down", 0)
    assert exc.retry_after_ms == 1  # never 0: "retry now" would only be refused again
    frame = error("sendMessage", "r1", exc.code, exc.message, retry_after_ms=exc.retry_after_ms)
    assert frame == {
        "type": "error",
        "action": "sendMessage",
        "requestId": "r1",
        "code": "rate_limited",
        "message": "slow down",
        "retryAfterMs": 1,
    }
    assert "retryAfterMs" not in error("sendMessage", None, exc.code, "other")


# -- configuration ---------------------------------------------------------------------------
def test_default_limits() -> None:
    config = Config.from_env({"TABLE_NAME": "t"})
    assert config.rate_limits == RateLimits(Limit(10, 20), Limit(100, 200), {})


def test_every_rate_limit_variable_is_read() -> None:
    tenants = {"acme": {"perSecond": 2, "burst": 3}, "big.co": {"perSecond": 0, "burst": 1}}
    limits = rate_limits_from_env(
        {
            "RATE_LIMIT_CONNECTION_PER_SECOND": "0.5",
            "RATE_LIMIT_CONNECTION_BURST": "4",
            "RATE_LIMIT_TENANT_PER_SECOND": "0",
            "RATE_LIMIT_TENANT_BURST": "9",
            "TENANT_RATE_LIMITS": json.dumps(tenants),
        }
    )
    assert limits == RateLimits(
        Limit(0.5, 4), Limit(0, 9), {"acme": Limit(2, 3), "big.co": Limit(0, 1)}
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RATE_LIMIT_CONNECTION_PER_SECOND": "fast"}, "RATE_LIMIT_CONNECTION_PER_SECOND must be"),
        ({"RATE_LIMIT_CONNECTION_PER_SECOND": "-1"}, "RATE_LIMIT_CONNECTION_PER_SECOND must be"),
        ({"RATE_LIMIT_TENANT_PER_SECOND": "1001"}, "RATE_LIMIT_TENANT_PER_SECOND must be between"),
        ({"RATE_LIMIT_TENANT_PER_SECOND": "nan"}, "RATE_LIMIT_TENANT_PER_SECOND must be between"),
        ({"RATE_LIMIT_CONNECTION_BURST": "0"}, "RATE_LIMIT_CONNECTION_BURST must be between 1"),
        ({"RATE_LIMIT_TENANT_BURST": "2.5"}, "RATE_LIMIT_TENANT_BURST must be an integer"),
        ({"TENANT_RATE_LIMITS": "{"}, "TENANT_RATE_LIMITS must be a JSON object"),
        ({"TENANT_RATE_LIMITS": "[]"}, "TENANT_RATE_LIMITS must be a JSON object"),
        ({"TENANT_RATE_LIMITS": '{"a#b": {}}'}, "TENANT_RATE_LIMITS: 'a#b' is not a tenant id"),
        (
            {"TENANT_RATE_LIMITS": '{"acme": {"perSecond": 5}}'},
            "TENANT_RATE_LIMITS: tenant 'acme': must be an object",
        ),
        (
            {"TENANT_RATE_LIMITS": '{"acme": {"perSecond": 5, "burst": 0}}'},
            "TENANT_RATE_LIMITS: tenant 'acme': burst must be a whole number",
        ),
        ({"TENANT_RATE_LIMITS": " " + "x" * 2049}, "TENANT_RATE_LIMITS must be at most 2048"),
    ],
)
def test_invalid_rate_limits_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"TABLE_NAME": "t", **env})
    assert message in str(raised.value)


def test_an_invalid_rate_limit_in_the_authorizer_context_is_refused() -> None:
    ctx = {"userId": "a", "tenantId": "t", "tokenExp": "1", "rateLimit": '{"perSecond": 5}'}
    with pytest.raises(Forbidden, match="invalid rateLimit"):
        Identity.from_authorizer(ctx)
    assert Identity.from_authorizer({**ctx, "rateLimit": ""}).rate_limit is None


def test_every_refusal_is_counted_by_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    from wscore import logs

    lines: list[dict[str, Any]] = []
    monkeypatch.setattr(logs, "metric_writer", lambda _logger, document: lines.append(document))
    repo = ScriptedRepo(RateWrite(False, T0 + 5000), RateWrite(True, T0 + 6000))
    limiter = _limiter(repo, connection=Limit(0.001, 1), tenant=Limit(1, 1))
    with pytest.raises(RateLimited):
        limiter.check("c1", ALICE, T0 / 1000)  # the tenant refuses
    limiter.check("c1", ALICE, T0 / 1000 + 5)  # accepted: the connection's last token
    with pytest.raises(RateLimited):
        limiter.check("c1", ALICE, T0 / 1000 + 5)  # the connection refuses
    assert [(line["metric"], line["scope"], line["rate_limited"]) for line in lines] == [
        ("rate_limited", "tenant", 1),
        ("rate_limited", "connection", 1),
    ]
    assert all(line["tenantId"] == "acme" for line in lines)
