"""The storm benchmark's pure parts (bench/gateway_meter.py, bench/gateway_capacity.py,
bench/cost.py): counting the users presence frames carry, meter deltas less the
bystander's heartbeats, DynamoDB units by operation, the targets and the table rows."""

from __future__ import annotations

import json
from typing import Any

from bench.cost import consumed_units
from bench.gateway_capacity import (
    STORM_COLUMNS,
    bystander_cost,
    median_of,
    meter_delta,
    meter_url,
    phase_figures,
    storm_rows,
    storm_targets,
    storm_verdict,
)
from bench.gateway_meter import frame_kind, presence_users


def test_presence_users_counts_users_not_frames() -> None:
    v1 = {"type": "presence", "roomId": "r", "event": "join", "userId": "u1"}
    assert presence_users(v1) == (["u1"], [])
    leave = {"type": "presence", "roomId": "r", "event": "leave", "userId": "u2"}
    assert presence_users(leave) == ([], ["u2"])
    coalesced = {"type": "presence", "roomId": "r", "joined": ["a", "b"], "left": ["c"]}
    assert presence_users(coalesced) == (["a", "b"], ["c"])
    assert frame_kind(json.dumps(coalesced).encode()) == ("presence", 3)
    assert frame_kind(json.dumps(v1).encode()) == ("presence", 1)
    assert frame_kind(b'{"type":"message","data":1}') == ("message", 0)
    assert frame_kind(b"\xff not json") == ("other", 0)
    assert frame_kind(b"[1]") == ("other", 0)


def test_meter_url_sits_beside_the_websocket() -> None:
    assert meter_url("ws://127.0.0.1:8123/dev?x=1") == "http://127.0.0.1:8123/_bench/meter"


def test_meter_delta_keeps_changes_and_scales() -> None:
    before = {"posts": {"presence": 10, "message": 2}, "gone": {"x": 1}}
    after = {"posts": {"presence": 25, "message": 2, "ack": 4}}
    assert meter_delta(before, after) == {
        "posts": {"presence": 15, "ack": 4},
        "gone": {"x": -1},
    }
    assert meter_delta({}, {"dynamodb_units": {"read": 10.0}}, 0.5) == {
        "dynamodb_units": {"read": 5.0}
    }


def _spent() -> dict[str, Any]:
    return {
        "posts": {"presence": 300, "ack": 149},
        "posts_failed": {"presence 410": 40, "ack 410": 1},
        "presence_users": {"total": 320},
        "dynamodb_requests": {"Query": 200, "GetItem": 30, "Scan": 5},
        "dynamodb_units": {"read": 120.0, "write": 90.0},
        "lambda_seconds": {"join_room": 20.0, "heartbeat": 0.5},
        "lambda_invocations": {"join_room": 149, "heartbeat": 10},
    }


def test_phase_figures_take_out_the_bystander_and_the_sweeper() -> None:
    per_heartbeat = {"dynamodb_requests": {"GetItem": 1}, "dynamodb_units": {"read": 0.5}}
    spent = _spent()
    cost = bystander_cost(spent, per_heartbeat, 10)
    figures = phase_figures(spent, cost)
    assert figures["presence_posts"] == 300
    assert figures["presence_posts_delivered"] == 260
    assert figures["presence_users_posted"] == 320
    assert figures["posts_failed"] == 41
    assert figures["dynamodb_requests"] == 220  # 200 + 30 - 10 heartbeats, no Scan
    assert figures["dynamodb_by_operation"] == {"GetItem": 20, "Query": 200}
    assert figures["read_units"] == 115.0
    assert figures["write_units"] == 90.0
    assert figures["lambda_s"] == 20.0
    assert figures["invocations"] == 149
    assert figures["lambda_by_function"] == {"join_room": {"invocations": 149, "s": 20.0}}


def test_consumed_units_by_operation() -> None:
    small = {"PK": {"S": "x"}}
    big = {"PK": {"S": "x" * 5000}}
    assert consumed_units("GetItem", {}, {"Item": small}, None) == (0.5, 0.0)
    assert consumed_units("GetItem", {"ConsistentRead": True}, {"Item": big}, None) == (2.0, 0)
    query = {"Items": [big, big], "ScannedCount": 4}
    assert consumed_units("Query", {"ConsistentRead": True}, query, None) == (5.0, 0.0)
    assert consumed_units("Query", {}, {"Items": [], "ScannedCount": 0}, None) == (0.5, 0.0)
    assert consumed_units("PutItem", {"Item": big}, {}, None) == (0.0, 5.0)
    assert consumed_units("UpdateItem", {}, {}, small, big) == (0.0, 5.0)
    assert consumed_units("UpdateItem", {}, {"Error": "Conditional"}, small, big) == (0.0, 1.0)
    assert consumed_units("DeleteItem", {}, {}, None) == (0.0, 1.0)
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": big}}, {"DeleteRequest": {}}]}}
    assert consumed_units("BatchWriteItem", batch, {}, [None, small]) == (0.0, 6.0)
    gets = {"RequestItems": {"t": {"ConsistentRead": True}}}
    assert consumed_units("BatchGetItem", gets, {"Responses": {"t": [small, big]}}, None) == (
        3.0,
        0.0,
    )
    assert consumed_units("Scan", {}, {}, None) == (0.0, 0.0)


def _storm(n: int, join_posts: int, leave_posts: int, rtt_max: float) -> dict[str, Any]:
    def side(posts: int) -> dict[str, Any]:
        return {
            "finished": True,
            "presence_posts": posts,
            "wall_s": 10.0,
            "dynamodb_requests": 400,
            "read_units": 100.4,
            "write_units": 80.0,
            "lambda_s": 12.34,
            "heartbeat_rtt_p50_ms": 40.2,
            "heartbeat_rtt_p99_ms": 300.0,
            "heartbeat_rtt_max_ms": rtt_max,
        }

    return {
        "status": "measured",
        "room_members": n,
        "coalesce_threshold": 100,
        "interval_s": 2.0,
        "join": side(join_posts),
        "leave": side(leave_posts),
    }


def test_storm_targets_above_and_below_the_threshold() -> None:
    # N = 500, 10 s: bound 500 x 10 / 2 + 500 = 3000, plus 100^2 / 2 below the threshold
    result = _storm(500, 8000, 8001, 900.0)
    targets = storm_targets(result)
    assert targets["join"]["posts_bound"] == 3000
    assert targets["join"]["below_threshold_posts"] == 5000
    assert targets["join"]["posts_within_bound"] is True
    assert targets["leave"]["posts_within_bound"] is False
    assert targets["join"]["heartbeat_max_under_1s"] is True
    small = storm_targets(_storm(50, 1300, 1200, 1500.0))
    assert small["above_threshold"] is False
    assert small["join"]["posts_within_bound"] is None
    assert small["leave"]["heartbeat_max_under_1s"] is False
    result["targets"] = targets
    verdict = storm_verdict({"500": result, "x": {"status": "error: no gateway"}})
    assert verdict == {"storm_heartbeat_under_1s": True, "storm_posts_within_bound": {"500": False}}
    assert storm_verdict({}) == {}


def test_a_cut_storm_is_partial() -> None:
    result = _storm(500, 90000, 0, 4000.0)
    result["join"]["finished"] = False
    result["leave"] = {"finished": False, "status": "not run: the join storm was cut"}
    targets = storm_targets(result)
    assert targets["join"]["posts_within_bound"] is None
    assert targets["join"]["heartbeat_max_under_1s"] is False
    assert targets["leave"] == {"finished": False, "heartbeat_max_under_1s": None}
    result["targets"] = targets
    assert storm_verdict({"500": result}) == {
        "storm_heartbeat_under_1s": False,
        "storm_posts_within_bound": {"500": None},
    }
    rows = storm_rows({"500": result})
    assert rows[0][5] == "10.0 (cut)"
    assert rows[1] == ["500", "leave", "not run: the join storm was cut", "", "", "", ""]


def test_storm_rows_one_per_storm() -> None:
    rows = storm_rows({"150": _storm(150, 9000, 7000, 812.0), "500": {"status": "pending"}})
    assert rows[0] == ["150", "join", "9000", "400 (100/80)", "12.3", "10.0", "40/300/812"]
    assert rows[1][1:3] == ["leave", "7000"]
    assert rows[2][:3] == ["500", "-", "pending"]
    assert all(len(row) == len(STORM_COLUMNS) for row in rows)


def test_median_of_walks_dicts() -> None:
    runs = [{"a": 1, "b": {"c": 5.0}, "s": "x"}, {"a": 3, "b": {"c": 1.0}, "s": "y"}]
    runs.append({"a": 2, "b": {"c": 3.0}, "s": "z"})
    assert median_of(runs) == {"a": 2, "b": {"c": 3.0}, "s": "x"}
