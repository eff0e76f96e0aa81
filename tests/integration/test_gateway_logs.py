"""What `make dev` logs: one format, one INFO line per rejected handshake, no token, no noise.

The gateway runs the product's handlers with make dev's defaults (no LOG_LEVEL), so this is
the log a developer reads.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.integration.conftest import ROOT, GatewayProcess, gateway_fixture
from tools.devtoken import mint

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S+ \S")
BANNER = re.compile(r"^(Local gateway ready: |  )")

plain = gateway_fixture({"LOG_LEVEL": ""})


def log_lines(gw: GatewayProcess) -> list[str]:
    return [line for line in gw.lines if not BANNER.match(line)]


def test_a_rejected_handshake_is_one_info_line_without_the_token(plain: GatewayProcess) -> None:
    secret = "not-a-jwt-but-secret-7f3a"
    before = len(plain.lines)
    for _ in range(3):
        with pytest.raises(InvalidStatus) as rejected:
            connect(plain.url(secret), open_timeout=10)
        assert rejected.value.response.status_code == 401
    # One line per attempt, each complete: the three lines are all there is.
    with connect(plain.url(mint("ann", "logs"))) as ws:
        ws.send(json.dumps({"action": "heartbeat", "requestId": "1"}))
        assert json.loads(ws.recv(10))["type"] == "ack"
    new = plain.lines[before:]
    rejected_lines = [line for line in new if "handshake rejected" in line]
    assert len(rejected_lines) == 3, "\n".join(new)
    assert all(" INFO " in line and "HTTP 401" in line for line in rejected_lines)
    assert not any("Traceback" in line or " ERROR " in line for line in new), "\n".join(new)
    assert not any(secret in line for line in plain.lines)


def test_every_log_line_has_the_one_format_and_no_metric_lines(plain: GatewayProcess) -> None:
    with (
        connect(plain.url(mint("ann", "fmt"))) as ann,
        connect(plain.url(mint("bob", "fmt"))) as bob,
    ):
        for ws in (ann, bob):
            ws.send(json.dumps({"action": "joinRoom", "roomId": "r", "requestId": "1"}))
            assert json.loads(ws.recv(10))["type"] == "ack"
        bob.send(json.dumps({"action": "sendMessage", "roomId": "r", "data": 1}))
        assert json.loads(ann.recv(10))["type"] in ("presence", "message")
    lines = log_lines(plain)
    assert any("connected" in line and "user=ann tenant=fmt" in line for line in lines)
    bad = [line for line in lines if not LOG_LINE.match(line)]
    assert not bad, "\n".join(bad)
    assert not any("CloudWatchMetrics" in line or '"_aws"' in line for line in lines)


def test_a_start_failure_is_one_error_line_and_exit_1(plain: GatewayProcess) -> None:
    env = {"PORT": str(plain.port), "HOST": "127.0.0.1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "local_gateway"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"port {plain.port}" in errors[0] and "is in use" in errors[0]
    assert LOG_LINE.match(errors[0])
    assert "Traceback" not in done.stderr
