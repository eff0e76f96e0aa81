"""Structured logs, EMF metrics, and the lazy X-Ray import that keeps cold starts lean."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wscore.errors import ConfigError
from wscore.logs import INVOCATION, TRACE, JsonFormatter, get_logger, metric, parse_level

ROOT = Path(__file__).resolve().parents[2]


def _render(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter().format(record))


def test_log_lines_are_single_json_objects_with_extras() -> None:
    logger = get_logger("wscore.test")
    record = logger.makeRecord(
        "wscore.test",
        logging.INFO,
        __file__,
        1,
        "hello %s",
        ("x",),
        None,
        extra={"connectionId": "c1"},
    )
    out = _render(record)
    assert out["message"] == "hello x"
    assert out["level"] == "INFO"
    assert out["connectionId"] == "c1"
    assert out["timestamp"].endswith("Z")


def test_metric_is_cloudwatch_embedded_metric_format(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRIC_NAMESPACE", "Chat")
    monkeypatch.setenv("METRIC_PROJECT", "chat")
    monkeypatch.setenv("METRIC_ENV", "prod")
    logger = get_logger("wscore.metrics-test")
    metric(logger, "broadcast", kind="message", delivered=3, pruned=1)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(line)
    directive = out["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Chat"
    # The deployment separates metrics in a shared account; the rollup has no `kind`.
    assert directive["Dimensions"] == [["Project", "Env"], ["Project", "Env", "kind"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"delivered", "pruned"}
    assert out["delivered"] == 3 and out["pruned"] == 1 and out["kind"] == "message"
    assert out["Project"] == "chat" and out["Env"] == "prod"
    assert isinstance(out["_aws"]["Timestamp"], int)


def test_metric_without_dimensions_and_with_properties(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METRIC_PROJECT", raising=False)
    monkeypatch.delenv("METRIC_ENV", raising=False)
    monkeypatch.delenv("METRIC_NAMESPACE", raising=False)
    metric(get_logger("wscore.m"), "authorizer", properties={"reason": "expired"}, Rejected=1)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = out["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ServerlessWebSocket"
    assert directive["Dimensions"] == [["Project", "Env"]]
    assert out["Project"] == out["Env"] == "local"
    assert out["reason"] == "expired" and out["Rejected"] == 1


@pytest.mark.parametrize("level", ["WARN", "WARNING", "ERROR", "FATAL"])
def test_metric_lines_survive_any_log_level(level: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Metrics feed alarms: LOG_LEVEL must not silence them."""
    logger = get_logger("wscore.quiet")
    root = get_logger()
    old = root.level
    root.setLevel(parse_level(level))
    try:
        logger.info("dropped")
        metric(logger, "broadcast", kind="message", delivered=1)
    finally:
        root.setLevel(old)
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [x.get("metric") for x in lines] == ["broadcast"]


@pytest.mark.parametrize(
    ("levelno", "name"),
    [
        (logging.DEBUG, "DEBUG"),
        (logging.INFO, "INFO"),
        (logging.WARNING, "WARN"),
        (logging.ERROR, "ERROR"),
        (logging.CRITICAL, "FATAL"),
        (TRACE, "TRACE"),
    ],
)
def test_records_use_lambdas_level_names(levelno: int, name: str) -> None:
    """Lambda's JSON log filter knows TRACE/DEBUG/INFO/WARN/ERROR/FATAL, not WARNING."""
    record = logging.LogRecord("wscore.t", levelno, __file__, 1, "m", None, None)
    assert _render(record)["level"] == name


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("", logging.INFO),
        ("warn", logging.WARNING),
        ("WARNING", logging.WARNING),
        ("FATAL", logging.CRITICAL),
        ("TRACE", TRACE),
    ],
)
def test_log_level_accepts_lambdas_and_pythons_names(raw: str, level: int) -> None:
    assert parse_level(raw) == level


def test_unknown_log_level_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        parse_level("LOUD")


class _RuntimeFilter(logging.Filter):
    """What the Lambda Python runtime puts on the root logger's handler."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def test_records_carry_request_id_cold_start_and_function_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "chat-prod-connect")
    runtime = logging.Handler()
    runtime_filter = _RuntimeFilter()
    runtime.addFilter(runtime_filter)
    logging.getLogger().addHandler(runtime)
    INVOCATION.reset()
    logger = get_logger("wscore.ctx")
    try:
        logger.warning("init")  # before the first invocation: part of the cold start
        runtime_filter.request_id = "req-1"
        logger.warning("first")
        metric(logger, "broadcast", delivered=1)
        runtime_filter.request_id = "req-2"
        logger.warning("second", extra={"requestId": "not-the-lambda-one"})
    finally:
        logging.getLogger().removeHandler(runtime)
        INVOCATION.reset()
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [(x.get("requestId"), x["coldStart"]) for x in lines] == [
        (None, True),
        ("req-1", True),
        ("req-1", True),
        ("req-2", False),
    ]
    assert {x["functionName"] for x in lines} == {"chat-prod-connect"}
    assert lines[0]["level"] == "WARN"


@pytest.mark.parametrize(("tracing", "expected"), [("false", False), ("true", True)])
def test_xray_sdk_is_imported_only_when_tracing_is_enabled(tracing: str, expected: bool) -> None:
    env = {
        **os.environ,
        "TABLE_NAME": "t",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "TRACING_ENABLED": tracing,
        "AWS_XRAY_SDK_ENABLED": "false",
        "PYTHONPATH": f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT / 'lambda_src' / 'handlers'}",
    }
    code = "import sys, connect; print('aws_xray_sdk' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == str(expected)


def test_tracing_without_the_sdk_in_the_layer_fails_at_start_saying_what_to_do() -> None:
    """The default layer has no aws-xray-sdk (the Lambda runtime does not provide it)."""
    env = {
        **os.environ,
        "TABLE_NAME": "t",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "TRACING_ENABLED": "true",
        "PYTHONPATH": f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT / 'lambda_src' / 'handlers'}",
    }
    code = "import sys; sys.modules['aws_xray_sdk'] = None; import connect"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode != 0
    assert "TRACING_ENABLED=true needs the aws-xray-sdk package in the layer" in out.stderr
    assert "xray_sdk_enabled" in out.stderr


def test_missing_configuration_fails_at_import_with_a_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TABLE_NAME"}
    env["PYTHONPATH"] = f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT / 'lambda_src' / 'handlers'}"
    out = subprocess.run(
        [sys.executable, "-c", "import connect"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "TABLE_NAME is required" in out.stderr


def test_snapstart_restore_reseeds_random_and_starts_a_new_cold_start() -> None:
    """Environments resumed from one snapshot must not share random's state (retry jitter)."""
    import random

    from wscore import logs

    hooks: list[Any] = []
    fake_runtime = type("Hooks", (), {"register_after_restore": staticmethod(hooks.append)})
    assert logs.register_snapstart_hooks(fake_runtime) is True
    assert hooks == [logs.after_snapshot_restore]
    random.seed(42)
    snapshot_state = random.getstate()
    INVOCATION.cold_start("req-before-snapshot")
    hooks[0]()
    assert random.getstate() != snapshot_state
    assert INVOCATION.cold_start("req-after-restore") is True
    INVOCATION.reset()
