"""The embedded emulator (moto, a child process) dying: one message, health fails, exit 1."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from local_gateway.config import GatewayConfig
from local_gateway.events import EventFactory
from local_gateway.lambdas import LambdaRuntime
from local_gateway.manifest import load_manifest
from local_gateway.server import Gateway
from tests.integration.conftest import GatewayProcess
from tools.devtoken import mint

pytestmark = pytest.mark.slow


def test_a_dead_emulator_stops_the_gateway_with_one_error_line() -> None:
    gateway = GatewayProcess({})
    gateway.spawn()
    try:
        gateway.wait_ready()
        with connect(gateway.url(mint("ann", "emu"))) as ws:
            os.kill(gateway.health["awsPid"], signal.SIGKILL)
            with pytest.raises(ConnectionClosed):
                ws.recv(15)  # the gateway closes its connections as it stops
        assert ws.close_code == 1001
        assert gateway.process is not None
        status = gateway.process.wait(30)
    finally:
        gateway.stop()
    assert status == 1, gateway.output()
    time.sleep(0.1)
    errors = [line for line in gateway.lines if " ERROR " in line]
    assert len(errors) == 1, gateway.output()
    assert "embedded AWS emulator" in errors[0] and "exited with status -9" in errors[0]
    assert not any("Traceback" in line for line in gateway.lines), gateway.output()


async def test_health_fails_with_the_reason_once_the_gateway_has_failed() -> None:
    config = GatewayConfig()
    runtime = LambdaRuntime(config.handlers_dir, config.region, 2, 1)
    gateway = Gateway(config, load_manifest(), runtime, EventFactory("api", "dev", "", "us-east-1"))
    try:
        gateway.ready.set()
        ok = await gateway.health(None)  # type: ignore[arg-type]
        assert ok.status == 200
        gateway.failure = "the embedded AWS emulator exited"
        failed = await gateway.health(None)  # type: ignore[arg-type]
        assert failed.status == 503
        assert failed.text is not None
        body = json.loads(failed.text)
        assert (body["status"], body["error"]) == ("failed", "the embedded AWS emulator exited")
    finally:
        runtime.shutdown()
