"""The one retry policy: botocore's standard mode (checked against botocore's own code).

Its users' rules (which statuses or errors are retried) are tested with each client:
test_management.py, test_dynamodb_client.py, test_fast_transport.py. Here: the backoff,
the attempts, the quota, and the repository's UnprocessedItems loop.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries import quota as botocore_quota
from botocore.retries import standard
from hypothesis import given
from hypothesis import strategies as st

from wscore.aws import dynamodb, retry
from wscore.aws.retry import Failure, RetryPolicy, RetryQuota, classify
from wscore.repository import Repository


def botocore_delay(status: int, code: str, attempt: int, roll: float, service: str) -> float:
    """botocore's ExponentialBackoff for the same response, attempt (1-based) and roll."""
    backoff = standard.ExponentialBackoff(
        random=lambda: roll,
        service_name=service,
        throttling_detector=standard.ThrottlingErrorDetector(standard.RetryEventAdapter()),
    )
    context = standard.RetryContext(
        attempt_number=attempt,
        parsed_response={"Error": {"Code": code}},
        http_response=AWSResponse("https://x", status, {}, None),
    )
    return float(backoff.delay_amount(context))


@given(
    response=st.sampled_from(
        [
            (400, "ThrottlingException"),
            (400, "ProvisionedThroughputExceededException"),
            (429, "LimitExceededException"),
            (429, ""),
            (500, "InternalServerError"),
            (503, ""),
            (400, "RequestTimeoutException"),
        ]
    ),
    attempt=st.integers(1, 8),
    roll=st.floats(0, 1, exclude_max=True),
)
def test_delays_equal_botocores(response: tuple[int, str], attempt: int, roll: float) -> None:
    status, code = response
    failure = classify(status, code)
    generic = RetryPolicy(rng=lambda: roll)
    ddb = RetryPolicy(rng=lambda: roll, transient_base_s=dynamodb.TRANSIENT_BASE_S)
    expected = botocore_delay(status, code, attempt, roll, "apigatewaymanagementapi")
    assert generic.delay(failure, attempt - 1) == pytest.approx(expected)
    expected = botocore_delay(status, code, attempt, roll, "dynamodb")
    assert ddb.delay(failure, attempt - 1) == pytest.approx(expected)


def test_the_constants_are_botocores() -> None:
    """Fails when a botocore upgrade changes standard mode: then mirror the change here."""
    backoff = standard.ExponentialBackoff
    checker = standard.RetryQuotaChecker
    assert standard.DEFAULT_MAX_ATTEMPTS == retry.DEFAULT_MAX_ATTEMPTS
    assert backoff._MAX_BACKOFF == retry.MAX_BACKOFF_S
    assert backoff._DEFAULT_BACKOFF_CONFIG == {
        "throttling_base_scale": retry.THROTTLING_BASE_S,
        "non_throttling_base_scale": retry.TRANSIENT_BASE_S,
    }
    ddb = backoff._SERVICE_BACKOFF_CONFIG["dynamodb"]
    assert ddb == {"non_throttling_base_scale": dynamodb.TRANSIENT_BASE_S}
    assert botocore_quota.RetryQuota.INITIAL_CAPACITY == retry.QUOTA_CAPACITY
    assert checker._THROTTLING_RETRY_COST == retry.THROTTLING_RETRY_COST
    assert checker._RETRY_COST == retry.RETRY_COST
    assert checker._NO_RETRY_INCREMENT == retry.NO_RETRY_INCREMENT
    throttled = standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES
    assert set(throttled) == retry.THROTTLING_CODES
    transient = standard.TransientRetryableChecker
    assert set(transient._TRANSIENT_ERROR_CODES) == retry.TRANSIENT_CODES
    assert set(transient._TRANSIENT_STATUS_CODES) == retry.TRANSIENT_STATUSES


@pytest.mark.parametrize(
    ("status", "code", "failure"),
    [
        (400, "ThrottlingException", Failure.THROTTLING),
        (503, "SlowDown", Failure.THROTTLING),
        (429, "", Failure.THROTTLING),
        (500, "", Failure.TRANSIENT),
        (504, "", Failure.TRANSIENT),
        (400, "RequestTimeout", Failure.TRANSIENT),
        (501, "", Failure.FINAL),
        (400, "ValidationException", Failure.FINAL),
        (400, "ConditionalCheckFailedException", Failure.FINAL),
    ],
)
def test_classify(status: int, code: str, failure: Failure) -> None:
    assert classify(status, code) is failure


class Script:
    """Attempt results in order; `judge` maps them to failures."""

    def __init__(self, *results: Failure | None) -> None:
        self.results = list(results)
        self.calls = 0

    def attempt(self) -> Failure | None:
        self.calls += 1
        return self.results.pop(0)


def judge(result: Failure | None) -> Failure | None:
    return result


def test_run_stops_at_max_attempts_and_returns_the_last_result() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(4, sleep=sleeps.append, rng=lambda: 0.5)
    script = Script(*[Failure.TRANSIENT] * 4)
    assert policy.run(script.attempt, judge) is Failure.TRANSIENT
    assert script.calls == 4 and sleeps == [0.025, 0.05, 0.1]


def test_a_final_error_is_neither_retried_nor_charged() -> None:
    policy = RetryPolicy(sleep=lambda _s: pytest.fail("no wait for a final error"))
    script = Script(Failure.FINAL)
    assert policy.run(script.attempt, judge) is Failure.FINAL
    assert script.calls == 1 and policy.quota.available == retry.QUOTA_CAPACITY


def test_quota_costs_and_refills_as_botocore() -> None:
    """Throttling retries take 5, others 14; a success returns its last retry's cost, or 1."""
    policy = RetryPolicy(sleep=lambda _s: None)
    quota = policy.quota
    policy.run(Script(Failure.THROTTLING, Failure.THROTTLING, None).attempt, judge)
    assert quota.available == 500 - 10 + 5
    policy.run(Script(Failure.TRANSIENT, Failure.TRANSIENT, Failure.TRANSIENT).attempt, judge)
    assert quota.available == 495 - 28  # failed in the end: nothing given back
    policy.run(Script(None).attempt, judge)
    assert quota.available == 468
    policy.run(Script(Failure.TRANSIENT, None).attempt, judge)
    assert quota.available == 468


def test_an_empty_quota_turns_retries_off_until_successes_refill_it() -> None:
    policy = RetryPolicy(quota=RetryQuota(capacity=14), sleep=lambda _s: None)
    first = Script(Failure.TRANSIENT, Failure.TRANSIENT)
    assert policy.run(first.attempt, judge) is Failure.TRANSIENT
    assert first.calls == 2  # one retry took all 14 tokens
    second = Script(Failure.THROTTLING)
    assert policy.run(second.attempt, judge) is Failure.THROTTLING
    assert second.calls == 1
    for _ in range(5):
        policy.run(Script(None).attempt, judge)
    third = Script(Failure.THROTTLING, None)
    assert policy.run(third.attempt, judge) is None and third.calls == 2


def test_the_quota_is_thread_safe() -> None:
    quota = RetryQuota(capacity=500)
    taken: list[int] = []
    start = threading.Barrier(8)

    def grab() -> None:
        start.wait()
        taken.append(sum(5 for _ in range(100) if quota.acquire(5)))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(taken) == 500 and quota.available == 0
    quota.release(10**6)
    assert quota.available == 500  # never above capacity


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(0)


# -- the repository's UnprocessedItems loop ---------------------------------------------
class PartialBatches:
    """A DynamoDB client whose BatchWriteItem leaves all but `done` requests unprocessed."""

    def __init__(self, *done: int) -> None:
        self.done = list(done)
        self.sent: list[int] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        self.sent.append(len(requests))
        n = self.done.pop(0) if self.done else len(requests)
        rest = requests[n:]
        return {"UnprocessedItems": {"t": rest}} if rest else {"UnprocessedItems": {}}


def keys(n: int) -> list[dict[str, Any]]:
    return [{"PK": {"S": f"k{i}"}, "SK": {"S": "META"}} for i in range(n)]


def test_unprocessed_items_wait_the_throttling_backoff_drawn_from_the_injected_rng() -> None:
    sleeps: list[float] = []
    rolls = iter([0.5, 0.25, 0.75])
    db = PartialBatches(3, 3, 3)
    policy = RetryPolicy(4, sleep=sleeps.append, rng=lambda: next(rolls))
    repo = Repository(db, "t", retry=policy)  # type: ignore[arg-type]
    assert repo.delete_keys(keys(10)) == 10
    assert db.sent == [10, 7, 4, 1]
    assert sleeps == [0.5 * 1.0, 0.25 * 2.0, 0.75 * 4.0]


def test_unprocessed_items_are_retried_a_bounded_number_of_times() -> None:
    sleeps: list[float] = []
    db = PartialBatches(*[0] * 10)
    policy = RetryPolicy(3, sleep=sleeps.append, rng=lambda: 1.0)
    repo = Repository(db, "t", retry=policy)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="5 batch deletes still unprocessed"):
        repo.delete_keys(keys(5))
    assert db.sent == [5, 5, 5] and sleeps == [1.0, 2.0]


def test_the_repositorys_default_policy_is_bounded_and_its_own() -> None:
    a = Repository(PartialBatches(), "t")  # type: ignore[arg-type]
    b = Repository(PartialBatches(), "t")  # type: ignore[arg-type]
    assert a._retry.max_attempts == 4
    assert a._retry is not b._retry and a._retry.quota is not b._retry.quota
