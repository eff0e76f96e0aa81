"""The benchmark's rate-limit parts (bench/rate_limits.py, bench/cost.py): the summary of
what the check adds to a sendMessage, its tables, and the writes per message under load."""

from __future__ import annotations

from typing import Any

from bench.__main__ import rate_limit_markdown, rate_limit_table
from bench.cost import rate_limit_summary
from bench.rate_limits import writes_per_message


def _row(operation: str, requests: int, wcu: float, posts: int = 10) -> dict[str, Any]:
    return {
        "operation": operation,
        "dynamodb_requests": requests,
        "write_units": wcu,
        "management_calls": posts,
    }


def test_the_summary_compares_each_rate_limit_row_with_the_same_message_unlimited() -> None:
    rows = [
        _row("send_to_10_direct", 5, 2.0),
        _row("send_to_10_ephemeral", 3, 0.0),
        _row("send_to_10_rate_limited_wrong_guess", 7, 4.0),
        _row("send_refused_by_the_connection", 1, 0.0, posts=0),
    ]
    assert rate_limit_summary(rows) == [
        {
            "operation": "send_to_10_rate_limited_wrong_guess",
            "dynamodb_requests": 7,
            "write_units": 4.0,
            "management_calls": 10,
            "extra_dynamodb_requests": 2,
            "extra_write_units": 2.0,
            "extra_management_calls": 0,
        },
        {
            "operation": "send_refused_by_the_connection",
            "dynamodb_requests": 1,
            "write_units": 0.0,
            "management_calls": 0,
            "extra_dynamodb_requests": -4,
            "extra_write_units": -2.0,
            "extra_management_calls": -10,
        },
    ]
    assert rate_limit_summary(rows[1:]) == []  # no baseline, no comparison


def test_the_tables_show_every_figure() -> None:
    results = {
        "rate_limit_cpu": [{"case": "connection", "cpu_us_median": 2.5, "cpu_us_min": 2.4}],
        "rate_limit_writes": rate_limit_summary(
            [_row("send_to_10_direct", 5, 2.0), _row("send_to_10_rate_limited_bursting", 6, 3.0)]
        ),
        "rate_limit_load": [
            {"rate_per_s": 90, "messages": 2000, "refused": 0, "update_items_per_message": 1.4}
        ],
    }
    text = "\n".join(rate_limit_table(results))
    assert "connection" in text and "2.50 us" in text
    assert "send_to_10_rate_limited_bursting" in text and "+1 req +1.0 WCU" in text
    assert "1.400 UpdateItem per message" in text
    markdown = "\n".join(rate_limit_markdown(results))
    assert "| connection | 2.5 | 2.4 |" in markdown
    assert "| send_to_10_rate_limited_bursting | 6 | 3.0 | +1 | +1.0 |" in markdown
    assert "| 90 | 2000 | 0 | 1.4 |" in markdown
    assert rate_limit_table({}) == [] and rate_limit_markdown({}) == []


def test_one_container_under_its_tenants_limit_writes_once_per_message() -> None:
    """A container's own cache is never stale: every guess is right, one write each."""
    alone = writes_per_message(rate=50, containers=1, messages=200)
    assert alone["refused"] == 0 and alone["update_items_per_message"] == 1.0
    crowd = writes_per_message(rate=90, containers=4, messages=200)
    assert 1.0 < crowd["update_items_per_message"] <= 2.0  # stale caches guess wrong
