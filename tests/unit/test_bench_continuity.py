"""The benchmark's pure parts for delivery continuity (bench/cost.py, bench/continuity_latency.py):
DynamoDB's billing sizes and units, the 1 KB boundary search, the persisted-vs-ephemeral
summary and its targets, and the latency summary."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bench.continuity_latency import order, summarize
from bench.cost import (
    V1_ROWS,
    attr_size,
    continuity_summary,
    data_of,
    item_size,
    largest_within,
    stored_entry_bytes,
    write_units,
)


def test_number_sizes_drop_zeros_at_both_ends() -> None:
    # 1 byte per two significant digits, plus 1 (DynamoDB's item size rules)
    assert attr_size({"N": "4102444800"}) == 5  # 8 significant digits
    assert attr_size({"N": "1700000000123"}) == 8  # 13
    assert attr_size({"N": "0"}) == 2
    assert attr_size({"N": "-12.5"}) == 3


def test_item_size_counts_names_and_values() -> None:
    item = {"PK": {"S": "abc"}, "n": {"N": "7"}, "ok": {"BOOL": True}}
    assert item_size(item) == (2 + 3) + (1 + 2) + (2 + 1)


def test_write_units_round_up_per_kilobyte() -> None:
    def sized(n: int) -> dict[str, Any]:
        return {"PK": {"S": "x" * (n - 2)}}

    assert write_units(None, sized(1024)) == 1.0
    assert write_units(None, sized(1025)) == 2.0
    assert write_units(sized(3000), None) == 3.0  # a delete is billed on the old item


def test_data_of_has_the_exact_json_size() -> None:
    for size in (11, 21, 803, 1024, 4096):
        assert len(json.dumps(data_of(size), separators=(",", ":")).encode()) == size


def test_largest_within() -> None:
    assert largest_within(10, lambda n: n, 1, 100) == 10
    assert largest_within(10, lambda n: 2 * n, 1, 100) == 5
    assert largest_within(10, lambda n: n + 20, 1, 100) == 0  # none fits: lo - 1
    assert largest_within(1000, lambda n: n, 1, 100) == 100


def test_the_fitting_entry_is_at_most_1kb_and_one_byte_more_is_not() -> None:
    now = 1_800_000_001.123

    def size(n: int) -> int:
        return stored_entry_bytes(n, "r10", "jo", 3, now)

    fits = largest_within(1024, size, 11, 1024)
    assert size(fits) <= 1024 < size(fits + 1)
    assert 700 < fits < 1024  # the frame and the entry's keys take the rest


def row(op: str, requests: int, read: float, write: float, **extra: Any) -> dict[str, Any]:
    return {
        "operation": op,
        "dynamodb_requests": requests,
        "read_units": read,
        "write_units": write,
        **extra,
    }


def rows(persisted_1kb_write: float, ephemeral_1000_read: float) -> list[dict[str, Any]]:
    return [
        row(
            "send_to_10_direct", 5, 2.5, 2.0, data_bytes=21, frame_bytes=176, history_item_bytes=244
        ),
        row("send_to_10_ephemeral", 3, 2.5, 0.0, data_bytes=21),
        row("send_to_1000_ephemeral_direct", 3, ephemeral_1000_read, 0.0, data_bytes=21),
        row(
            "send_to_10_persisted_data_1024B",
            5,
            2.5,
            persisted_1kb_write,
            data_bytes=1024,
            frame_bytes=1179,
            history_item_bytes=1245,
        ),
        row("send_to_10_ephemeral_data_1024B", 3, 2.5, 0.0, data_bytes=1024),
        row(
            "send_to_10_persisted_data_4096B",
            5,
            2.5,
            6.0,
            data_bytes=4096,
            frame_bytes=4251,
            history_item_bytes=4318,
        ),
        row("send_to_10_ephemeral_data_4096B", 3, 2.5, 0.0, data_bytes=4096),
        row("resume_after_1000_missed", 40, 60.0, 0.0, calls=10, messages=1000),
    ]


def test_summary_pairs_persisted_with_ephemeral_by_size() -> None:
    out = continuity_summary(rows(3.0, 25.0))
    extra = {x["data_bytes"]: x["extra_write_units"] for x in out["persisted_minus_ephemeral"]}
    assert extra == {21: 2.0, 1024: 3.0, 4096: 6.0}
    assert {x["extra_dynamodb_requests"] for x in out["persisted_minus_ephemeral"]} == {2}
    # a 4 KB message is outside the target; 1 KB of data at 3 units is not
    assert out["targets"]["max_extra_write_units_data_le_1kb"] == 3.0
    assert out["targets"]["extra_write_units_target_met"] is False
    assert out["targets"]["largest_data_bytes_within_2_extra_write_units"] == 21
    assert out["resume"][0]["read_units_per_message"] == 0.06


@pytest.mark.parametrize(
    ("write_1kb", "read_1000", "wcu_met", "v1_met"),
    [(2.0, V1_ROWS["send_to_1000_direct"]["read_units"], True, True), (3.0, 26.5, False, False)],
)
def test_targets(write_1kb: float, read_1000: float, wcu_met: bool, v1_met: bool) -> None:
    targets = continuity_summary(rows(write_1kb, read_1000))["targets"]
    assert targets["extra_write_units_target_met"] is wcu_met
    assert targets["ephemeral_equals_v1"] is v1_met


def test_latency_order_alternates() -> None:
    assert order(0) == ("persisted", "ephemeral")
    assert order(1) == ("ephemeral", "persisted")
    assert order(-3) == ("ephemeral", "persisted")


def test_latency_summary() -> None:
    out = summarize([30.0, 20.0, 40.0], [10.0, 12.0, 11.0])
    assert out["persisted_median_ms"] == 30.0
    assert out["ephemeral_median_ms"] == 11.0
    assert out["ratio"] == round(30 / 11, 3)
    assert out["median_paired_difference_ms"] == 20.0  # of 20, 8, 29
    with pytest.raises(ValueError, match="one value of each kind"):
        summarize([1.0], [])
