"""@connections client semantics: scripted transport, and the real boto3 client under Stubber.

410 => gone, never retried; 429 => bounded full-jitter retries on the throttling backoff,
then throttled; 413 => no retry; 403 => logged as a configuration error, nothing pruned;
5xx and network errors => bounded retries on the short backoff, then failed; post_many
never exceeds the transport's max_concurrency.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import Records, captured_logs
from wscore.aws import management
from wscore.aws.management import (
    Boto3Transport,
    ManagementClient,
    Outcome,
    management_client,
    reset_clients,
)
from wscore.aws.retry import RetryPolicy, RetryQuota
from wscore.delivery.broadcast import Broadcaster

ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"


class Scripted:
    """A transport answering scripted statuses in order (the last one repeats)."""

    def __init__(self, *statuses: int, max_concurrency: int = 4) -> None:
        self.statuses = list(statuses)
        self.max_concurrency = max_concurrency
        self.calls: list[tuple[str, str]] = []

    def _next(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def post(self, connection_id: str, data: bytes) -> int:
        self.calls.append(("post", connection_id))
        return self._next()

    def delete(self, connection_id: str) -> int:
        self.calls.append(("delete", connection_id))
        return self._next()


@pytest.fixture
def logs() -> Iterator[Records]:
    with captured_logs("wscore.aws.management") as records:
        yield records


def _client(
    transport: Any, rng: Any = lambda: 1.0, attempts: int = 3, **policy: Any
) -> tuple[ManagementClient, list[float]]:
    sleeps: list[float] = []
    retry = RetryPolicy(attempts, sleep=sleeps.append, rng=rng, **policy)
    return ManagementClient(transport, ENDPOINT, retry), sleeps


# -- scripted transport -----------------------------------------------------------------
def test_delivered() -> None:
    client, sleeps = _client(Scripted(200))
    assert client.post("c1", b"x") is Outcome.DELIVERED and sleeps == []


def test_410_is_gone_and_never_retried() -> None:
    transport = Scripted(410, 200)
    client, sleeps = _client(transport)
    assert client.post("c1", b"x") is Outcome.GONE
    assert transport.calls == [("post", "c1")] and sleeps == []


def test_429_retries_with_full_jitter_then_throttled() -> None:
    transport = Scripted(429)
    rolls = iter([0.5, 0.25])
    client, sleeps = _client(transport, rng=lambda: next(rolls))
    assert client.post("c1", b"x") is Outcome.THROTTLED
    assert len(transport.calls) == 3  # max_attempts, then give up
    assert sleeps == [0.5 * 1.0, 0.25 * 2.0]  # U(0, 1 s * 2**attempt): botocore's throttling


def test_429_then_success_is_delivered() -> None:
    transport = Scripted(429, 429, 200)
    client, sleeps = _client(transport)
    assert client.post("c1", b"x") is Outcome.DELIVERED
    assert len(transport.calls) == 3 and sleeps == [1.0, 2.0]


def test_server_errors_back_off_less_than_throttling() -> None:
    client, sleeps = _client(Scripted(503, 0, 200))
    assert client.post("c1", b"x") is Outcome.DELIVERED
    assert sleeps == [0.05, 0.1]  # U(0, 50 ms * 2**attempt): botocore's transient base


def test_delays_are_capped() -> None:
    client, sleeps = _client(Scripted(429), attempts=6, throttling_base_s=0.4, max_backoff_s=1.0)
    assert client.post("c1", b"x") is Outcome.THROTTLED
    assert sleeps == [0.4, 0.8, 1.0, 1.0, 1.0]


def test_an_empty_retry_quota_stops_retrying() -> None:
    """botocore's quota: retries stop while the client's bucket is empty, successes refill it."""
    quota = RetryQuota(capacity=10)
    client, sleeps = _client(Scripted(429, 429, 429, 503, 200), quota=quota)
    assert client.post("c1", b"x") is Outcome.THROTTLED  # 2 retries, 5 tokens each
    assert len(sleeps) == 2 and quota.available == 0
    assert client.post("c1", b"x") is Outcome.FAILED  # 503: no token left, no retry
    assert len(sleeps) == 2
    assert client.post("c1", b"x") is Outcome.DELIVERED  # a success gives 1 back
    assert client.post("c1", b"x") is Outcome.DELIVERED
    assert quota.available == 2


@given(
    attempts=st.integers(1, 8),
    base=st.floats(0.001, 2),
    cap=st.floats(0.001, 5),
    rolls=st.lists(st.floats(0, 1, exclude_max=True), min_size=8, max_size=8),
)
def test_every_delay_is_within_the_policy(
    attempts: int, base: float, cap: float, rolls: list[float]
) -> None:
    it = iter(rolls)
    transport = Scripted(429)
    client, sleeps = _client(
        transport,
        rng=lambda: next(it),
        attempts=attempts,
        throttling_base_s=base,
        max_backoff_s=cap,
    )
    assert client.post("c1", b"x") is Outcome.THROTTLED
    assert len(transport.calls) == attempts and len(sleeps) == attempts - 1
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= min(cap, base * 2**attempt)


def test_413_is_too_large_and_not_retried() -> None:
    transport = Scripted(413, 200)
    client, sleeps = _client(transport)
    assert client.post("c1", b"x") is Outcome.TOO_LARGE
    assert len(transport.calls) == 1 and sleeps == []


def test_403_is_a_logged_configuration_error_and_prunes_nothing(logs: Records) -> None:
    transport = Scripted(403)
    client, sleeps = _client(transport)
    assert client.post("c1", b"x") is Outcome.FORBIDDEN
    assert len(transport.calls) == 1 and sleeps == []
    (record,) = [r for r in logs.records if r.levelno == logging.ERROR]
    assert "MANAGEMENT_ENDPOINT" in record.getMessage()
    assert "execute-api:ManageConnections" in record.getMessage()
    assert record.__dict__["status"] == 403 and record.__dict__["connectionId"] == "c1"
    report = Broadcaster(lambda _e: client).deliver(ENDPOINT, ["c1"], b"x", kind="message")
    assert report.gone == [] and report.failed == ["c1"]  # never pruned as if gone
    assert [c for c in transport.calls if c[0] == "delete"] == []


@pytest.mark.parametrize("status", [500, 502, 503, 0])
def test_server_and_network_errors_get_bounded_retries(status: int, logs: Records) -> None:
    transport = Scripted(status)
    client, sleeps = _client(transport)
    assert client.post("c1", b"x") is Outcome.FAILED
    assert len(transport.calls) == 3 and len(sleeps) == 2
    assert any(r.levelno == logging.WARNING for r in logs.records)


def test_network_error_then_success() -> None:
    transport = Scripted(0, 200)
    client, _ = _client(transport)
    assert client.post("c1", b"x") is Outcome.DELIVERED and len(transport.calls) == 2


@pytest.mark.parametrize(
    ("status", "outcome"), [(204, Outcome.DELIVERED), (410, Outcome.GONE), (403, Outcome.FORBIDDEN)]
)
def test_delete_semantics(status: int, outcome: Outcome) -> None:
    transport = Scripted(status)
    client, _ = _client(transport)
    assert client.delete("c1") is outcome and transport.calls == [("delete", "c1")]


def test_broadcaster_reports_each_outcome() -> None:
    class PerId(Scripted):
        def post(self, connection_id: str, data: bytes) -> int:
            self.calls.append(("post", connection_id))
            return {"gone": 410, "big": 413, "slow": 429, "down": 500}.get(connection_id, 200)

    client, _ = _client(PerId(200))
    ids = ["ok", "gone", "big", "slow", "down", "ok"]
    report = Broadcaster(lambda _e: client).deliver(ENDPOINT, ids, b"x", kind="message")
    assert report.delivered == 1 and report.gone == ["gone"] and report.too_large == 1
    assert sorted(report.failed) == ["down", "slow"]


# -- concurrency -----------------------------------------------------------------------
class Blocking:
    """Posts block on a gate; records how many run at once."""

    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency
        self.active = 0
        self.peak = 0
        self.cond = threading.Condition()
        self.gate = threading.Event()

    def post(self, connection_id: str, data: bytes) -> int:
        with self.cond:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.cond.notify_all()
        try:
            assert self.gate.wait(timeout=10), "the test never opened the gate"
            return 200
        finally:
            with self.cond:
                self.active -= 1

    def delete(self, connection_id: str) -> int:
        return 204


def test_post_many_concurrency_is_bounded_by_max_concurrency() -> None:
    transport = Blocking(max_concurrency=3)
    client = ManagementClient(transport, ENDPOINT)
    ids = [f"c{i}" for i in range(12)]
    result: dict[str, Outcome] = {}
    worker = threading.Thread(target=lambda: result.update(client.post_many(ids, b"x")))
    worker.start()
    with transport.cond:
        assert transport.cond.wait_for(lambda: transport.active == 3, timeout=10)
        # nothing more may start while the first three hold their workers
        assert not transport.cond.wait_for(lambda: transport.active > 3, timeout=0.3)
    transport.gate.set()
    worker.join(timeout=10)
    assert result == dict.fromkeys(ids, Outcome.DELIVERED)
    assert transport.peak == 3


def test_post_many_of_one_or_none_needs_no_pool() -> None:
    transport = Scripted(200)
    client, _ = _client(transport)
    assert client.post_many([], b"x") == {}
    assert client.post_many(["c1"], b"x") == {"c1": Outcome.DELIVERED}


# -- the real boto3 client, stubbed ---------------------------------------------------------
@pytest.fixture
def boto_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    return management._new_client(ENDPOINT, 4)


def _stubbed(boto_client: Any) -> tuple[ManagementClient, list[float]]:
    return _client(Boto3Transport(ENDPOINT, max_concurrency=4, client=boto_client))


@pytest.mark.parametrize(
    ("code", "status", "outcome", "calls"),
    [
        ("GoneException", 410, Outcome.GONE, 1),
        ("PayloadTooLargeException", 413, Outcome.TOO_LARGE, 1),
        ("ForbiddenException", 403, Outcome.FORBIDDEN, 1),
        ("LimitExceededException", 429, Outcome.THROTTLED, 3),
        ("InternalServerErrorException", 500, Outcome.FAILED, 3),
    ],
)
def test_boto3_transport_errors(
    boto_client: Any, code: str, status: int, outcome: Outcome, calls: int
) -> None:
    client, sleeps = _stubbed(boto_client)
    with Stubber(boto_client) as stub:
        for _ in range(calls):
            stub.add_client_error(
                "post_to_connection",
                service_error_code=code,
                http_status_code=status,
                expected_params={"ConnectionId": "c1", "Data": b"frame"},
            )
        assert client.post("c1", b"frame") is outcome
        stub.assert_no_pending_responses()  # exactly `calls` requests were made
    assert len(sleeps) == calls - 1


def test_boto3_transport_delivers_and_deletes(boto_client: Any) -> None:
    client, _ = _stubbed(boto_client)
    with Stubber(boto_client) as stub:
        stub.add_response("post_to_connection", {}, {"ConnectionId": "c1", "Data": b"hi"})
        stub.add_response("delete_connection", {}, {"ConnectionId": "c1"})
        stub.add_client_error("delete_connection", "GoneException", http_status_code=410)
        assert client.post("c1", b"hi") is Outcome.DELIVERED
        assert client.delete("c1") is Outcome.DELIVERED
        assert client.delete("c1") is Outcome.GONE
        stub.assert_no_pending_responses()


def test_boto3_throttling_then_success(boto_client: Any) -> None:
    client, sleeps = _stubbed(boto_client)
    with Stubber(boto_client) as stub:
        stub.add_client_error("post_to_connection", "LimitExceededException", http_status_code=429)
        stub.add_response("post_to_connection", {})
        assert client.post("c1", b"hi") is Outcome.DELIVERED
        stub.assert_no_pending_responses()
    assert sleeps == [1.0]


def test_boto3_network_error_is_retried_a_bounded_number_of_times(boto_client: Any) -> None:
    """A connection error: our 3 attempts, and none hidden inside botocore (1 attempt each)."""
    sends: list[str] = []

    def refuse(**kwargs: Any) -> None:
        sends.append(kwargs["request"].url)
        raise EndpointConnectionError(endpoint_url=ENDPOINT)

    boto_client.meta.events.register("before-send.apigatewaymanagementapi.*", refuse)
    client, sleeps = _stubbed(boto_client)
    assert client.post("c1", b"hi") is Outcome.FAILED
    assert len(sends) == 3 and len(sleeps) == 2
    assert all(url.startswith(f"{ENDPOINT}/@connections/c1") for url in sends)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ({"Error": {"Code": "GoneException"}}, 410),
        ({"Error": {"Code": "LimitExceededException"}}, 429),
        ({"Error": {"Code": "PayloadTooLargeException"}}, 413),
        ({"Error": {"Code": "ForbiddenException"}}, 403),
        ({"Error": {"Code": "Mystery"}}, 500),
        ({"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": 502}}, 502),
    ],
)
def test_status_from_client_error_without_or_with_http_status(
    error: dict[str, Any], status: int
) -> None:
    assert Boto3Transport._status(ClientError(error, "PostToConnection")) == status


def test_status_of_a_non_client_exception_is_a_network_error() -> None:
    assert Boto3Transport._status(OSError("reset")) == management.NETWORK_ERROR


def test_one_client_per_endpoint_per_container() -> None:
    reset_clients()
    made: list[str] = []

    def factory(endpoint: str) -> Scripted:
        made.append(endpoint)
        return Scripted(200)

    try:
        a = management_client(ENDPOINT, factory)
        assert management_client(ENDPOINT, factory) is a
        assert management_client(ENDPOINT + "2", factory) is not a
        assert made == [ENDPOINT, ENDPOINT + "2"]
    finally:
        reset_clients()


def test_real_client_config_leaves_retries_to_us(boto_client: Any) -> None:
    config = boto_client.meta.config
    assert config.retries["total_max_attempts"] == 1
    assert config.max_pool_connections == 4
    assert boto_client.meta.endpoint_url == ENDPOINT
