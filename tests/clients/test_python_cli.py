"""``python -m wsclient``: commands, JSON lines on stdout, exit codes and stderr messages."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# isort: split
# (wsclient is first-party once clients/python is in ruff's src; the split keeps both orders)
from wsclient import cli

if TYPE_CHECKING:
    from tests.clients.fake_protocol_server import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sentinel-token-8c1f"  # must never be printed


class Run:
    """One in-process CLI run with captured output."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


async def run_cli(url: str, *argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    args = cli.parse_args(["--url", url, "--token", TOKEN, "--timeout", "2", *argv])
    code = await asyncio.wait_for(cli.execute(args, out, err), 10)  # fail, never hang
    result = Run(code, out.getvalue(), err.getvalue())
    assert TOKEN not in result.out + result.err
    return result


async def test_send_joins_then_sends_and_prints_the_ack(gateway: FakeGateway) -> None:
    run = await run_cli(gateway.url, "send", "lobby", '{"text": "hi", "n": [1, 2]}')
    assert run.code == cli.EXIT_OK
    [ack] = run.lines
    assert ack["type"] == "ack"
    assert ack["action"] == "sendMessage"
    assert ack["messageId"] == "m-1"
    _, join = await gateway.next_frame()
    _, send = await gateway.next_frame()
    assert (join["action"], join["roomId"]) == ("joinRoom", "lobby")
    assert send["data"] == {"text": "hi", "n": [1, 2]}
    assert (await gateway.next_close())[1] == 1000


async def test_presence_of_a_room_and_of_the_tenant(gateway: FakeGateway) -> None:
    room = await run_cli(gateway.url, "presence", "lobby")
    tenant = await run_cli(gateway.url, "presence")
    assert room.lines[0]["users"] == [{"userId": "alice"}, {"userId": "bob"}]
    assert tenant.code == 0
    frames = [(await gateway.next_frame("getPresence"))[1] for _ in range(2)]
    assert frames[0]["roomId"] == "lobby"
    assert "roomId" not in frames[1]


async def test_join_prints_events_as_json_lines(gateway: FakeGateway) -> None:
    message = {"type": "message", "roomId": "lobby", "messageId": "m", "data": "é"}
    presence = {"type": "presence", "roomId": "lobby", "event": "join", "userId": "bob"}

    async def server_side() -> None:
        await gateway.next_frame("joinRoom")
        await gateway.next_frame("joinRoom")
        await gateway.push(message)
        await gateway.push(presence)

    pusher = asyncio.create_task(server_side())
    run = await run_cli(gateway.url, "join", "lobby", "team", "--count", "2")
    await pusher
    assert run.code == cli.EXIT_OK
    assert run.lines == [message, presence]
    assert "joined lobby (online: alice)" in run.err
    assert "joined team" in run.err


async def test_listen_rejoins_after_a_drop_and_keeps_printing(gateway: FakeGateway) -> None:
    event = {"type": "event", "target": {"tenantId": "acme"}, "event": "tick", "data": 1}

    async def server_side() -> None:
        await gateway.next_frame("joinRoom")
        await gateway.drop(1001)
        _, rejoin = await gateway.next_frame("joinRoom")
        assert rejoin["roomId"] == "lobby"
        await gateway.push(event)

    pusher = asyncio.create_task(server_side())
    run = await run_cli(gateway.url, "join", "lobby", "--count", "1")
    await pusher
    assert run.lines == [event]
    assert "reconnecting" in run.err
    assert "reconnected" in run.err


async def test_listen_exits_3_when_the_server_closes_for_good(gateway: FakeGateway) -> None:
    async def server_side() -> None:
        await gateway.next_open()
        await gateway.drop(4001, "token expired")

    closer = asyncio.create_task(server_side())
    run = await run_cli(gateway.url, "listen")
    await closer
    assert run.code == cli.EXIT_CONNECTION
    assert "4001" in run.err


async def test_protocol_error_exits_1_with_the_code_on_stderr(gateway: FakeGateway) -> None:
    gateway.errors = {"sendMessage": "not_member"}
    run = await run_cli(gateway.url, "send", "lobby", "1")
    assert run.code == cli.EXIT_REQUEST_FAILED
    assert run.out == ""
    assert "request failed: not_member" in run.err


async def test_timeout_exits_1(gateway: FakeGateway) -> None:
    gateway.silent = {"getPresence"}
    run = await run_cli(gateway.url, "--timeout", "0.05", "presence")
    assert run.code == cli.EXIT_REQUEST_FAILED
    assert "timeout" in run.err


@pytest.mark.parametrize(
    ("status", "expected"), [(401, "HTTP 401 (handshake_rejected)"), (503, "HTTP 503")]
)
@pytest.mark.parametrize("command", [["presence"], ["listen"], ["join", "lobby"]])
async def test_refused_handshake_exits_3_saying_so_once(
    gateway: FakeGateway, status: int, expected: str, command: list[str]
) -> None:
    gateway.reject_status = status
    run = await run_cli(gateway.url, *command)
    assert run.code == cli.EXIT_CONNECTION
    assert expected in run.err
    assert run.err.count("cannot connect") == 1, run.err
    assert len(run.err.splitlines()) == 1, run.err
    assert gateway.handshakes == 1  # one attempt, no retry loop


@pytest.mark.parametrize("command", [["presence"], ["listen"], ["join", "lobby"]])
async def test_unreachable_gateway_exits_3_at_once(
    gateway: FakeGateway, command: list[str]
) -> None:
    url = gateway.url
    await gateway.__aexit__(None, None, None)  # nothing listens on that port any more
    run = await run_cli(url, *command)  # run_cli fails the test if this does not end
    assert run.code == cli.EXIT_CONNECTION
    assert run.err.count("cannot connect") == 1, run.err


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "ws://127.0.0.1:3001/dev"),
        ({"PORT": "3401"}, "ws://127.0.0.1:3401/dev"),
        ({"HOST": "0.0.0.0", "PORT": "4000", "STAGE": "test"}, "ws://127.0.0.1:4000/test"),
        ({"HOST": "10.0.0.5", "STAGE": ""}, "ws://10.0.0.5:3001/dev"),
        ({"WSCLIENT_URL": "wss://example.com/prod", "PORT": "3401"}, "wss://example.com/prod"),
    ],
)
def test_the_default_url_follows_the_gateway_settings(env: dict[str, str], url: str) -> None:
    assert cli.default_url(env) == url


def test_the_parser_default_url_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WSCLIENT_URL", raising=False)
    monkeypatch.setenv("PORT", "3401")
    assert cli.parse_args(["--token", "t", "listen"]).url == "ws://127.0.0.1:3401/dev"


async def test_invalid_url_exits_2() -> None:
    run = await run_cli("http://[bad", "presence")
    assert run.code == cli.EXIT_USAGE
    assert "invalid option: url" in run.err


@pytest.mark.parametrize(
    "argv",
    [
        ["presence"],  # no token
        ["--token", "t", "send", "lobby", "{not json"],
        ["--token", "t", "join"],
        ["--token", "t", "shout"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    env_token = os.environ.pop("WSCLIENT_TOKEN", None)
    try:
        with pytest.raises(SystemExit) as caught:
            cli.parse_args(argv)
    finally:
        if env_token is not None:
            os.environ["WSCLIENT_TOKEN"] = env_token
    assert caught.value.code == cli.EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


async def test_module_entry_point_runs_as_a_process(gateway: FakeGateway) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "clients" / "python"), "WSCLIENT_TOKEN": TOKEN}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wsclient",
        "--url",
        gateway.url,
        "send",
        "lobby",
        '"hello"',
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["action"] == "sendMessage"
    assert gateway.tokens == [TOKEN]
