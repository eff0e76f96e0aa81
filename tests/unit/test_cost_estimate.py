"""`make cost`: the estimate's arithmetic, the dated price list, and one measured run."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from bench import estimate as est

# One of each operation, in the shape bench.cost.measure_workload returns.
MEASURED: dict[str, dict[str, Any]] = {
    op: {
        "read_units": reads,
        "write_units": writes,
        "management_calls": posts,
        "sqs_requests": 0,
        "sqs_messages": 0,
        "worker_invocations": 0,
    }
    for op, reads, writes, posts in [
        ("connect", 0.0, 3.0, 0),
        ("join", 1.5, 2.0, 9),
        ("send", 2.5, 0.0, 9),
        ("heartbeat", 1.5, 5.0, 0),
        ("disconnect", 1.0, 5.0, 9),
    ]
}


def _line(e: est.Estimate, service: str, starts: str) -> est.Line:
    found = [x for x in e.lines if x.service == service and x.item.startswith(starts)]
    assert len(found) == 1, [x.item for x in e.lines]
    return found[0]


def test_prices_are_dated_and_sourced() -> None:
    prices = est.load_prices()
    datetime.date.fromisoformat(prices["as_of"])
    assert prices["region"] and prices["currency"] == "USD"
    for service in ("apigateway", "lambda", "dynamodb", "sqs", "cloudwatch", "xray"):
        assert prices["sources"][service].startswith("https://aws.amazon.com/")


def test_the_api_gateway_floor_is_messages_and_connection_minutes() -> None:
    w = est.Workload(connected_minutes=1_000_000, messages_per_second=1.0, session_minutes=50)
    e = est.estimate(w, MEASURED)
    sessions = 1_000_000 / 50
    sends = est.SECONDS_PER_MONTH
    inbound = sessions + sends + 1_000_000 / 5  # joins, sends, heartbeats
    posts = 9 * (sessions + sends + sessions)  # join, send, disconnect to 9 others
    messages = 2 * inbound + posts
    assert _line(e, "API Gateway", "messages").quantity == pytest.approx(messages)
    assert e.floor == pytest.approx(messages / 1e6 * 1.00 + 1_000_000 / 1e6 * 0.25)
    assert e.total > e.floor
    assert set(e.by_service()) == {
        "API Gateway",
        "Lambda",
        "DynamoDB",
        "SQS",
        "CloudWatch",
        "X-Ray",
        "Data transfer",
    }


def test_messages_above_a_billion_get_the_second_tier() -> None:
    tiers = est.load_prices()["apigateway"]["websocket_messages_per_million"]
    assert est.tiered(1500, tiers) == pytest.approx(1000 * 1.00 + 500 * 0.80)


def test_history_adds_two_write_units_per_message_and_its_storage() -> None:
    w = est.Workload(messages_per_second=10.0, history_retention_seconds=86_400)
    off = est.estimate(w, MEASURED)
    on = est.estimate(est.Workload(messages_per_second=10.0, history=True), MEASURED)
    added = on.by_service()["DynamoDB"] - off.by_service()["DynamoDB"]
    writes = 10.0 * est.SECONDS_PER_MONTH * 2
    stored_gb = 10.0 * 86_400 * 1024 / 1e9
    assert added == pytest.approx(writes / 1e6 * 0.625 + stored_gb * 0.25)
    assert any("modelled, not measured" in n for n in on.notes)
    assert on.by_service()["API Gateway"] == off.by_service()["API Gateway"]


def test_large_rooms_cost_more_per_message() -> None:
    small = est.estimate(est.Workload(), MEASURED)
    big_rows = {k: dict(v) for k, v in MEASURED.items()}
    big_rows["send"] |= {"management_calls": 999, "worker_invocations": 100, "sqs_requests": 10}
    big = est.estimate(est.Workload(), big_rows)
    assert big.by_service()["Lambda"] > small.by_service()["Lambda"]
    assert _line(big, "SQS", "requests").quantity > 0


def test_make_cost_measures_through_the_handlers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--json",
        "--peak-connections",
        "500",
        "--messages-per-second",
        "2",
        "--room-size",
        "150",
    ]
    assert est.main([*argv, "--history"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prices_as_of"] == est.load_prices()["as_of"]
    assert out["total_usd"] > out["api_gateway_floor_usd"] > 0
    worker = [x for x in out["lines"] if x["service"] == "SQS" and x["item"].startswith("requests")]
    assert worker[0]["quantity"] > 0  # a room of 150 goes through the fan-out queue
    assert est.main(["--peak-connections", "500", "--room-size", "10"]) == 0
    text = capsys.readouterr().out
    assert "floor: API Gateway's own messages and connection minutes" in text
    assert "history off" in text
