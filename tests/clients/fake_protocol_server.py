"""A small protocol v1 server for the client tests: real WebSockets on 127.0.0.1, port 0.

It answers every request with an ack or an error frame shaped as in protocol v1, records
what it received, and can refuse handshakes, stay silent, push events or drop connections,
so the clients' reconnect, rejoin, timeout and correlation logic meets a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:
    from types import TracebackType

    from websockets.asyncio.server import Server
    from websockets.http11 import Request, Response

Frame = dict[str, Any]
WAIT_S = 5.0  # upper bound on any wait; a healthy test never gets near it


class FakeGateway:
    """Protocol v1 stand-in. Use ``async with FakeGateway() as gw`` and ``gw.url``."""

    def __init__(self) -> None:
        self.url = ""
        self.connections: list[ServerConnection] = []
        self.tokens: list[str] = []
        self.reject_status: int | None = None  # answer handshakes with this HTTP status
        self.handshakes = 0  # upgrade requests received, rejected ones included
        self.errors: dict[str, str] = {}  # action -> error code to answer with
        self.silent: set[str] = set()  # actions never answered
        self.held: set[str] = set()  # actions answered by the test through reply()
        self.frames: asyncio.Queue[tuple[int, Frame]] = asyncio.Queue()
        self.opened: asyncio.Queue[int] = asyncio.Queue()
        self.closed: asyncio.Queue[tuple[int, int | None]] = asyncio.Queue()
        self._server: Server | None = None
        self._message_ids = 0

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            ping_interval=None,
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/dev"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    # ---- what the tests drive ---------------------------------------------------------------

    async def next_frame(self, action: str | None = None) -> tuple[int, Frame]:
        """The next received frame (optionally of one action): (connection index, frame)."""
        async with asyncio.timeout(WAIT_S):
            while True:
                index, frame = await self.frames.get()
                if action is None or frame.get("action") == action:
                    return index, frame

    async def next_open(self) -> int:
        """Index of the next connection that completes its handshake."""
        async with asyncio.timeout(WAIT_S):
            return await self.opened.get()

    async def next_close(self) -> tuple[int, int | None]:
        """(index, close code the client sent) of the next connection that ends."""
        async with asyncio.timeout(WAIT_S):
            return await self.closed.get()

    async def push(self, frame: Frame, index: int = -1) -> None:
        """Send a server event (message, presence, event) to one connection."""
        await self.connections[index].send(json.dumps(frame))

    async def reply(self, frame: Frame, index: int = -1, **fields: Any) -> None:
        """Ack a held frame now."""
        await self._send(self.connections[index], self._ack(frame, fields))

    async def drop(self, code: int = 1001, reason: str = "going away", index: int = -1) -> None:
        """Close a connection from the server side with a close frame."""
        await self.connections[index].close(code, reason)

    def abort(self, index: int = -1) -> None:
        """Cut the TCP connection without a close frame (network loss: 1006 for the client)."""
        self.connections[index].transport.abort()

    # ---- server side ------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if self.reject_status is not None:
            status = HTTPStatus(self.reject_status)
            return connection.respond(status, f"{status.phrase}\n")
        query = parse_qs(urlsplit(request.path).query)
        self.tokens.append(query.get("token", [""])[0])
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.connections)
        self.connections.append(ws)
        self.opened.put_nowait(index)
        try:
            async for message in ws:
                await self._answer(ws, index, message)
        except ConnectionClosed:
            pass
        finally:
            received = ws.protocol.close_rcvd
            code = received.code if received is not None else None
            self.closed.put_nowait((index, code))

    async def _answer(self, ws: ServerConnection, index: int, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            await self._send(ws, _error(None, None, "invalid_json"))
            return
        self.frames.put_nowait((index, frame))
        action = frame.get("action")
        if action in self.silent or action in self.held:
            return
        if action in self.errors:
            await self._send(ws, _error(action, frame.get("requestId"), self.errors[action]))
        elif action in {"joinRoom", "leaveRoom", "sendMessage", "heartbeat", "getPresence"}:
            await self._send(ws, self._ack(frame, {}))
        else:
            await self._send(ws, _error(action, frame.get("requestId"), "unknown_action"))

    def _ack(self, frame: Frame, fields: dict[str, Any]) -> Frame:
        """The ack protocol v1 defines for the frame's action, with test overrides."""
        action = frame.get("action")
        body: Frame = {}
        if action == "joinRoom":
            body = {"roomId": frame["roomId"], "members": [{"userId": "alice"}]}
        elif action == "leaveRoom":
            body = {"roomId": frame["roomId"]}
        elif action == "sendMessage":
            self._message_ids += 1
            body = {"roomId": frame["roomId"], "messageId": f"m-{self._message_ids}"}
        elif action == "heartbeat":
            body = {"serverTime": "2026-01-01T00:00:00Z"}
        elif action == "getPresence":
            body = {"users": [{"userId": "alice"}, {"userId": "bob"}]}
        head = {"type": "ack", "action": action, "requestId": frame.get("requestId")}
        return head | body | fields

    @staticmethod
    async def _send(ws: ServerConnection, frame: Frame) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(frame))


def _error(action: str | None, request_id: str | None, code: str) -> Frame:
    return {
        "type": "error",
        "action": action,
        "requestId": request_id,
        "code": code,
        "message": f"fake gateway says {code}",
    }
