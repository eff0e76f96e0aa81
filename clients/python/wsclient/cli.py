"""Command line for protocol v1: listen, join, send, presence.

Server events go to stdout as JSON lines; progress and errors go to stderr, so the output can
be piped into jq. Exit codes: 0 success, 1 a request failed (protocol error code or timeout),
2 usage error, 3 the connection failed or ended (refused, unreachable, closed for good),
130 interrupted. The first connection is tried once: a gateway that is not there is exit 3
at once; `listen` and `join` reconnect (with backoff) only after they were connected.

The default URL follows the local gateway's settings, like `make dev`: `WSCLIENT_URL`, else
`ws://$HOST:$PORT/$STAGE` (defaults 127.0.0.1, 3001, dev).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from wsclient.client import SERVER_EVENT_TYPES, ClientError, WsClient
from wsclient.presence import member_count, page_user_ids

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    CommandFn = Callable[[WsClient, argparse.Namespace, "_Printer", asyncio.Event], Awaitable[int]]

DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STAGE = "127.0.0.1", "3001", "dev"
EXIT_OK = 0
EXIT_REQUEST_FAILED = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_INTERRUPTED = 130
# Error codes of what ends the client for good (reported once, with the exit code).
ENDING_CODES = frozenset({"disconnected", "handshake_rejected", "invalid_url"})


def default_url(env: Mapping[str, str]) -> str:
    """WSCLIENT_URL, else the local gateway's address from HOST, PORT and STAGE (as make dev)."""
    if env.get("WSCLIENT_URL"):
        return env["WSCLIENT_URL"]
    host = env.get("HOST") or DEFAULT_HOST
    host = DEFAULT_HOST if host in ("0.0.0.0", "::") else host  # noqa: S104 - a bind-all address
    return f"ws://{host}:{env.get('PORT') or DEFAULT_PORT}/{env.get('STAGE') or DEFAULT_STAGE}"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; usage errors exit with status 2."""
    url = default_url(os.environ)
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = argparse.ArgumentParser(
        prog=invoked if invoked and invoked != "__main__.py" else "python -m wsclient",
        description="Protocol v1 WebSocket client (local gateway: make dev; token: make -s token).",
        epilog="exit codes: 0 ok, 1 request failed, 2 usage, 3 connection failed, 130 interrupted",
    )
    parser.add_argument(
        "--url",
        default=url,
        help="WebSocket URL without the token (env WSCLIENT_URL, else ws://$HOST:$PORT/$STAGE "
        f"like make dev; now {url})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("WSCLIENT_TOKEN"),
        help="JWT sent as ?token= (env WSCLIENT_TOKEN)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each reply (default 10)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listen = commands.add_parser("listen", help="print server events as JSON lines")
    join = commands.add_parser("join", help="join rooms, then print server events")
    join.add_argument("rooms", nargs="+", metavar="ROOM")
    for sub in (listen, join):
        sub.add_argument("--count", type=int, default=0, help="exit after N events (0: never)")
        sub.add_argument(
            "--max-reconnect-attempts",
            type=int,
            default=None,
            help="give up after N failed reconnects in a row (default: never)",
        )
    send = commands.add_parser("send", help="join ROOM, send DATA_JSON, print the ack")
    send.add_argument("room", metavar="ROOM")
    send.add_argument("data", metavar="DATA_JSON", type=_json_arg)
    presence = commands.add_parser(
        "presence", help="print users online in ROOM or the tenant: every page's ack, a line each"
    )
    presence.add_argument("room", metavar="ROOM", nargs="?")
    presence.add_argument(
        "--limit", type=int, default=None, help="users per page, 1-500 (default: the server's)"
    )
    return parser


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not valid JSON: {text!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is required: --token or WSCLIENT_TOKEN (make -s token ...)")
    return args


class _Printer:
    """Writes events to stdout and notes to stderr, one line each, flushed for pipes."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def event(self, frame: dict[str, Any]) -> None:
        self.out.write(json.dumps(frame, ensure_ascii=False) + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.err.write(f"wsclient: {text}\n")
        self.err.flush()


async def execute(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one parsed command and return its exit code."""
    printer = _Printer(out, err)
    streaming = args.command in {"listen", "join"}
    try:
        # One attempt for the first connection: retrying a gateway that is not there would
        # hang the command instead of exiting 3.
        client = WsClient(
            args.url, args.token, request_timeout=args.timeout, max_reconnect_attempts=0
        )
    except ValueError as exc:
        printer.note(f"invalid option: {exc}")
        return EXIT_USAGE
    enough = asyncio.Event()
    if streaming:
        _subscribe(client, printer, args.count, enough)
    try:
        await client.connect()
    except ClientError as exc:
        printer.note(exc.message if exc.code == "disconnected" else f"{exc.message} ({exc.code})")
        return EXIT_CONNECTION
    if streaming:  # once connected, listen and join survive drops
        client.max_reconnect_attempts = args.max_reconnect_attempts
    try:
        return await COMMANDS[args.command](client, args, printer, enough)
    except ClientError as exc:
        if exc.code == "disconnected":
            printer.note(f"connection lost: {exc.message}")
            return EXIT_CONNECTION
        printer.note(f"request failed: {exc}")
        return EXIT_REQUEST_FAILED
    finally:
        await client.close()


def _subscribe(client: WsClient, printer: _Printer, count: int, enough: asyncio.Event) -> None:
    """Print events (before connect, so none is missed) and connection changes."""
    seen = 0

    def on_event(frame: dict[str, Any]) -> None:
        nonlocal seen
        printer.event(frame)
        seen += 1
        if count and seen >= count:
            enough.set()

    def on_state(change: dict[str, Any]) -> None:
        if change["state"] == "reconnecting":
            why = f"code {change['code']}" + (f": {change['reason']}" if change["reason"] else "")
            printer.note(
                f"connection lost ({why}); reconnecting in "
                f"{change['delay']:.1f} s (attempt {change['attempt']})"
            )
        elif change["state"] == "open" and change["previous"] == "reconnecting":
            printer.note("reconnected")

    def on_error(error: Exception) -> None:
        if isinstance(error, ClientError) and error.code in ENDING_CODES and not error.room_id:
            return  # what ends the client is reported once, with the exit code
        room = getattr(error, "room_id", None)
        printer.note(f"rejoin of {room} failed: {error}" if room else f"error: {error}")

    for event_type in SERVER_EVENT_TYPES:
        client.on(event_type, on_event)
    client.on("state", on_state)
    client.on("error", on_error)


async def _listen(
    client: WsClient, args: argparse.Namespace, printer: _Printer, enough: asyncio.Event
) -> int:
    """Wait for --count events, or until the connection ends for good."""
    closed = asyncio.ensure_future(client.wait_closed())
    counted = asyncio.ensure_future(enough.wait())
    try:
        await asyncio.wait({closed, counted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
        counted.cancel()
    if enough.is_set():
        return EXIT_OK
    error = client.close_info.get("error")
    printer.note(f"connection closed: {error}")
    return EXIT_CONNECTION


async def _join(
    client: WsClient, args: argparse.Namespace, printer: _Printer, enough: asyncio.Event
) -> int:
    for room in args.rooms:
        ack = await client.join_room(room)
        members = page_user_ids(ack, "members")
        more = (member_count(ack) or 0) - len(members)  # beyond the ack's first page
        listed = ", ".join(members) + (f" and {more} more" if more > 0 else "")
        printer.note(f"joined {room} (online: {listed or 'nobody'})")
    return await _listen(client, args, printer, enough)


async def _send(
    client: WsClient, args: argparse.Namespace, printer: _Printer, enough: asyncio.Event
) -> int:
    """Join first: sendMessage requires a membership (not_member otherwise)."""
    await client.join_room(args.room)
    printer.event(await client.send_message(args.room, args.data))
    return EXIT_OK


async def _presence(
    client: WsClient, args: argparse.Namespace, printer: _Printer, enough: asyncio.Event
) -> int:
    async for page in client.presence_pages(args.room, limit=args.limit):
        printer.event(page)
    return EXIT_OK


COMMANDS: dict[str, CommandFn] = {
    "listen": _listen,
    "join": _join,
    "send": _send,
    "presence": _presence,
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(execute(args, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
