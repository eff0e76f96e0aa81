"""Fixtures that run the local gateway in a subprocess and talk to it like a client.

A subprocess per configuration: handler modules cache their services per process, exactly
like a warm Lambda container, so isolation needs a process. Each gateway binds PORT=0 and
announces its URL on stdout; we wait for that line (no sleeps), then confirm with the
health endpoint. Teardown sends SIGTERM/SIGINT and requires a clean exit (status 0).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
FAKE_HANDLERS = Path(__file__).resolve().parent / "fake_handlers"
READY = re.compile(r"Local gateway ready: (ws://[^/\s]+:(\d+)/(\S+))")
START_TIMEOUT_S = 90.0


@dataclass
class GatewayProcess:
    """A running gateway subprocess and what a test needs to reach it."""

    env: dict[str, str]
    python: str = sys.executable
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    ws_url: str = ""
    port: int = 0
    stage: str = ""
    health: dict[str, Any] = field(default_factory=dict)
    _reader: threading.Thread | None = None

    def spawn(self) -> None:
        env = {**os.environ, "PORT": "0", "HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
        env.update(self.env)
        self.process = subprocess.Popen(
            [self.python, "-m", "local_gateway"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            match = READY.search(line)
            if match and not self.ready.is_set():
                self.ws_url, self.port, self.stage = match[1], int(match[2]), match[3]
                self.ready.set()
        self.ready.set()  # process ended: unblock the waiter, which then reports the logs

    def wait_ready(self) -> GatewayProcess:
        if not self.ready.wait(START_TIMEOUT_S) or not self.port:
            raise RuntimeError("the gateway did not start:\n" + self.output())
        self.health = self.get_json("/_dev/health")
        assert self.health["status"] == "ok"
        return self

    def output(self) -> str:
        return "\n".join(self.lines[-200:])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def management_endpoint(self) -> str:
        return f"{self.base_url}/{self.stage}"

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
            return json.loads(response.read())

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def url(self, token: str, **query: str) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"{self.ws_url}?token={token}{extra}"

    def aws(self, service: str) -> Any:
        """A boto3 client on the gateway's embedded moto (to inspect or age data)."""
        factory: Any = boto3.client
        return factory(
            service,
            endpoint_url=self.health["awsEndpoint"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def management(self) -> Any:
        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=self.management_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("the gateway did not stop:\n" + self.output()) from None
        if self._reader is not None:
            self._reader.join(10)  # the last lines, up to EOF
        return self.process.returncode


def gateway_fixture(
    env: dict[str, str], sig: int = signal.SIGTERM
) -> Callable[[], Iterator[GatewayProcess]]:
    """A module-scoped fixture running one gateway with `env` (overrides)."""

    @pytest.fixture(scope="module")
    def fixture() -> Iterator[GatewayProcess]:
        gateway = GatewayProcess(env)
        gateway.spawn()
        try:
            yield gateway.wait_ready()
        finally:
            status = gateway.stop(sig)
            assert status == 0, f"unclean stop ({status}):\n{gateway.output()}"
            stopping = next(
                (i for i, line in enumerate(gateway.lines) if "Stopping the local gateway" in line),
                None,
            )
            assert stopping is not None, gateway.output()
            assert not any("Traceback" in line for line in gateway.lines[stopping:])

    return fixture


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll emulator state that offers no event to await (e.g. SQS queue depth)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
