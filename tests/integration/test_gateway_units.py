"""Fast checks of the gateway's pure pieces: route selection, policies, filters, config."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pytest

from local_gateway.aws import rate_limit_environment
from local_gateway.config import GatewayConfig
from local_gateway.filters import matches
from local_gateway.lambdas import FairExecutor
from local_gateway.logs import LineFormatter, MetricsAtDebug
from local_gateway.manifest import load_manifest
from local_gateway.server import policy_allows, select_route, stringify_context
from tests.helpers import PROTOCOL_ROUTES
from tests.integration.conftest import eventually
from wscore.errors import ConfigError

ROUTES = load_manifest().routes
TTL_FILTER = load_manifest().stream_filter


def test_the_route_table_is_the_manifests() -> None:
    assert set(ROUTES) == PROTOCOL_ROUTES


@pytest.mark.parametrize(
    ("frame", "route"),
    [
        ('{"action": "joinRoom"}', "joinRoom"),
        ('{"action": "getPresence", "roomId": "x"}', "getPresence"),
        ('{"action": "JOINROOM"}', "$default"),
        ('{"action": "$connect"}', "$default"),
        ('{"action": null}', "$default"),
        ('"joinRoom"', "$default"),
        ("{", "$default"),
        # Deeper than the parser goes (RecursionError): $default, which answers invalid_json.
        ('{"action": "joinRoom", "x": ' + "[" * 1_000 + "]" * 1_000 + "}", "$default"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "$default"),
    ],
)
def test_route_selection(frame: str, route: str) -> None:
    assert select_route(frame, ROUTES) == route


def _policy(*effects: str) -> dict[str, object]:
    statements = [{"Action": "execute-api:Invoke", "Effect": e, "Resource": "*"} for e in effects]
    return {"principalId": "u", "policyDocument": {"Statement": statements}}


@pytest.mark.parametrize(
    ("result", "allowed"),
    [
        (_policy("Allow"), True),
        (_policy("Deny"), False),
        (_policy("Allow", "Deny"), False),
        (_policy(), False),
        ({"principalId": "u"}, False),
        ({"policyDocument": {"Statement": [{"Action": "s3:*", "Effect": "Allow"}]}}, False),
    ],
)
def test_policy_evaluation(result: dict[str, object], allowed: bool) -> None:
    assert policy_allows(result) is allowed


def test_context_values_become_strings_and_objects_are_refused() -> None:
    assert stringify_context({"a": 1, "b": True, "c": "x", "d": 1.5, "e": None}) == {
        "a": "1",
        "b": "true",
        "c": "x",
        "d": "1.5",
    }
    with pytest.raises(ValueError, match="not a scalar"):
        stringify_context({"rooms": ["a"]})


def _record(
    event: str, identity: dict[str, str] | None, kind: str = "connection"
) -> dict[str, object]:
    record: dict[str, object] = {
        "eventName": event,
        "dynamodb": {"OldImage": {"type": {"S": kind}}},
    }
    if identity is not None:
        record["userIdentity"] = identity
    return record


TTL = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


@pytest.mark.parametrize(
    ("record", "passes"),
    [
        (_record("REMOVE", TTL), True),
        (_record("REMOVE", TTL, "membership"), False),  # expires with its connection
        (_record("REMOVE", TTL, "history"), False),  # history entries expire by thousands
        (_record("REMOVE", None), False),  # a user's DeleteItem
        (_record("MODIFY", TTL), False),
        (_record("INSERT", None), False),
        (_record("REMOVE", {"type": "Service", "principalId": "other.amazonaws.com"}), False),
    ],
)
def test_the_manifest_stream_filter_passes_only_ttl_removals(
    record: dict[str, object], passes: bool
) -> None:
    assert matches(TTL_FILTER, record) is passes


def test_filter_rules() -> None:
    assert matches({"a": [{"prefix": "CONN#"}]}, {"a": "CONN#1"})
    assert not matches({"a": [{"prefix": "CONN#"}]}, {"a": "ROOM#1"})
    assert matches({"a": [{"exists": False}]}, {})
    assert matches({"a": [{"anything-but": ["x"]}]}, {"a": "y"})
    assert not matches({"a": [{"anything-but": "x"}]}, {"a": "x"})


def test_config_from_env_validates() -> None:
    config = GatewayConfig.from_env({"PORT": "0", "STAGE": "test", "GATEWAY_IDLE_TIMEOUT_S": "1.5"})
    assert (config.port, config.stage, config.idle_timeout_s) == (0, "test", 1.5)
    assert GatewayConfig.from_env({}).port == 3001
    bad = (
        {"PORT": "x"},
        {"PORT": "70000"},
        {"STAGE": "a/b"},
        {"GATEWAY_TTL_SWEEP_S": "0"},
        {"GATEWAY_IDLE_TIMEOUT_S": "nan"},
        {"GATEWAY_WORKERS": "1"},
    )
    for env in bad:
        (name,) = env
        with pytest.raises(ConfigError, match=f"^{name} "):  # the core's error, naming the variable
            GatewayConfig.from_env(env)


def test_the_handlers_get_the_modules_rate_limits_unless_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in rate_limit_environment():
        monkeypatch.delenv(name, raising=False)
    assert rate_limit_environment() == {
        "RATE_LIMIT_CONNECTION_PER_SECOND": "10",
        "RATE_LIMIT_CONNECTION_BURST": "20",
        "RATE_LIMIT_TENANT_PER_SECOND": "100",
        "RATE_LIMIT_TENANT_BURST": "200",
    }
    monkeypatch.setenv("RATE_LIMIT_TENANT_PER_SECOND", "0")
    assert rate_limit_environment()["RATE_LIMIT_TENANT_PER_SECOND"] == "0"


def test_the_moto_speedup_changes_no_response() -> None:
    import os

    import boto3
    from moto import mock_aws

    from local_gateway import moto_speedups
    from tools.aws_local import create_table

    item: dict[str, Any] = {
        "PK": {"S": "ROOM#a"},
        "SK": {"S": "x"},
        "n": {"N": "1.5"},
        "l": {"L": [{"S": "a"}, {"NULL": True}, {"BOOL": False}]},
        "m": {"M": {"k": {"BOOL": True}, "ns": {"NS": ["1", "2"]}, "b": {"B": b"\x00"}}},
        "ss": {"SS": ["a", "b"]},
        "bin": {"B": b"\x00\x01"},
    }

    def responses() -> list[object]:
        env = {
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            with mock_aws():
                ddb = boto3.client("dynamodb")
                create_table(ddb, "t")
                ddb.put_item(TableName="t", Item=item)
                ddb.put_item(TableName="t", Item={"PK": {"S": "ROOM#a"}, "SK": {"S": "y"}})
                query = ddb.query(
                    TableName="t",
                    KeyConditionExpression="PK = :p",
                    ExpressionAttributeValues={":p": {"S": "ROOM#a"}},
                    Limit=1,
                )
                return [
                    query["Items"],
                    query["LastEvaluatedKey"],
                    ddb.get_item(TableName="t", Key={"PK": {"S": "ROOM#a"}, "SK": {"S": "x"}}),
                    ddb.delete_item(
                        TableName="t",
                        Key={"PK": {"S": "ROOM#a"}, "SK": {"S": "y"}},
                        ReturnValues="ALL_OLD",
                    )["Attributes"],
                ]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def strip(response: list[object]) -> list[object]:
        return [
            r if not isinstance(r, dict) or "ResponseMetadata" not in r else r["Item"]
            for r in response
        ]

    plain = strip(responses())
    undo = moto_speedups.install()
    try:
        fast = strip(responses())
    finally:
        undo()
    assert fast == plain
    assert plain[0] == [item]


def _record(name: str, level: int, msg: str, **extra: Any) -> logging.LogRecord:
    record = logging.getLogger(name).makeRecord(name, level, "f.py", 1, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_the_line_format_renders_extra_fields_as_key_value() -> None:
    record = _record(
        "wscore.rooms", logging.WARNING, "message.rejected", reason="not member", n=2, ok=True
    )
    line = LineFormatter().format(record)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} WARNING wscore\.rooms message\.rejected "
        r'reason="not member" n=2 ok=true',
        line,
    ), line


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("WARNING", False), ("DEBUG", True)])
def test_metric_lines_show_only_when_the_handlers_log_at_debug(level: str, shown: bool) -> None:
    logger = logging.getLogger("wscore.units.metrics")
    logger.setLevel(level)
    try:
        metric = _record(logger.name, logging.INFO, "broadcast", _aws={"x": 1}, metric="broadcast")
        plain = _record(logger.name, logging.INFO, "authorizer.allow")
        assert MetricsAtDebug().filter(metric) is shown
        assert MetricsAtDebug().filter(plain) is True
    finally:
        logger.setLevel(logging.NOTSET)


def test_the_fair_executor_keeps_a_thread_for_other_keys() -> None:
    pool = FairExecutor(3, "t")
    gate = threading.Event()
    try:
        held = [pool.submit("busy", gate.wait, 10) for _ in range(5)]
        # "busy" may hold 2 of the 3 threads; the third serves another key at once.
        assert pool.submit("calm", lambda: "done").result(timeout=5) == "done"
        eventually(lambda: sum(f.running() for f in held) == 2, timeout=5)
        assert not any(f.done() for f in held)
        gate.set()
        assert all(f.result(timeout=5) is True for f in held)
    finally:
        gate.set()
        pool.shutdown()


def test_the_fair_executor_serves_keys_in_turn_and_each_key_in_order() -> None:
    pool = FairExecutor(2, "t")  # one key may hold 1 thread: order is fully visible
    started: list[str] = []
    gate = threading.Event()
    try:
        blocker = pool.submit("x", gate.wait, 10)
        blocker2 = pool.submit("y", gate.wait, 10)
        jobs = [
            pool.submit(key, started.append, f"{key}{n}")
            for key, n in [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("c", 1)]
        ]
        gate.set()
        for future in [blocker, blocker2, *jobs]:
            future.result(timeout=5)
        assert [s for s in started if s.startswith("a")] == ["a1", "a2", "a3"]
        assert [s for s in started if s.startswith("b")] == ["b1", "b2"]
        # In turn: each key's first job comes before any key's third.
        assert started.index("c1") < started.index("a3")
    finally:
        gate.set()
        pool.shutdown()


def test_the_fair_executor_reports_errors_and_cancels_waiting_jobs_on_shutdown() -> None:
    pool = FairExecutor(2, "t")
    gate = threading.Event()
    try:
        with pytest.raises(ZeroDivisionError):
            pool.submit("k", lambda: 1 / 0).result(timeout=5)
        started = threading.Event()
        running = pool.submit("k", lambda: started.set() or gate.wait(10))
        assert started.wait(5)
        waiting = pool.submit("k", lambda: "never")  # "k" already holds its one thread
        pool.shutdown()
        assert waiting.cancelled()
        gate.set()
        assert running.result(timeout=5) is True
        with pytest.raises(RuntimeError):
            pool.submit("k", print)
    finally:
        gate.set()


def test_the_emulator_applies_each_dynamodb_request_atomically(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Concurrent ADDs on one item each see a different old value, as on DynamoDB (moto
    alone lets two requests read the item before either writes it)."""
    import sys
    import threading

    import boto3
    from moto import mock_aws

    from local_gateway import moto_atomic
    from tools.aws_local import create_table

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "t")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: the unpatched race shows at once
    undo = moto_atomic.install()
    try:
        with mock_aws():
            ddb = boto3.client("dynamodb")
            create_table(ddb, "t")
            seen: list[int] = []

            def add() -> None:
                for _ in range(25):
                    out = ddb.update_item(
                        TableName="t",
                        Key={"PK": {"S": "ROOM#a"}, "SK": {"S": "PRESENCE"}},
                        UpdateExpression="ADD members :one",
                        ExpressionAttributeValues={":one": {"N": "1"}},
                        ReturnValues="UPDATED_OLD",
                    )
                    seen.append(int(out.get("Attributes", {}).get("members", {"N": "0"})["N"]))

            threads = [threading.Thread(target=add) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        undo()
        sys.setswitchinterval(interval)
    assert sorted(seen) == list(range(100))
