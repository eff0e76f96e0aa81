"""Structured logs, EMF metrics, and the lazy X-Ray import that keeps cold starts lean."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wscore.logs import JsonFormatter, get_logger, metric

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


def test_metric_is_cloudwatch_embedded_metric_format(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_logger("wscore.metrics-test")
    metric(logger, "broadcast", kind="message", delivered=3, pruned=1)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(line)
    directive = out["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["kind"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"delivered", "pruned"}
    assert out["delivered"] == 3 and out["pruned"] == 1 and out["kind"] == "message"
    assert isinstance(out["_aws"]["Timestamp"], int)


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
