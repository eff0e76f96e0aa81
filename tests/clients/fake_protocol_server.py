"""A small protocol server for the client tests: real WebSockets on 127.0.0.1, port 0.

It answers every request with an ack or an error frame shaped as in protocol v1, records
what it received, and can refuse handshakes, stay silent, push events or drop connections,
so the clients' reconnect, rejoin, timeout and correlation logic meets a real socket.

With ``v11 = True`` it speaks protocol v1.1 as well: per-room seqs (``latestSeq`` in join
acks, ``seq`` in send acks), a history the tests fill (stored, skipped and expired seqs)
that ``getHistory`` pages through, ``refreshToken``, and scripted replies for the cases a
real server produces only by timing (an empty page with ``hasMore``, ``rate_limited``).
Users the tests put ``online`` are paged as v1.1 pages them: ``joinRoom`` ``members`` and
``getPresence`` ``users`` in user id order after ``cursor``, ``limit`` at a time, with
``memberCount`` (a room) and ``nextCursor`` (and v1's ``truncated``) while more follow;
coalesced ``presence`` frames are pushed like any event.
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
        # protocol v1.1 (off: the v1 behaviour above, unchanged)
        self.v11 = False
        self.history_off = False  # history_retention_seconds = 0: no seqs, empty pages
        self.history: dict[str, list[Frame]] = {}  # roomId -> stored frames, ascending seq
        self.latest: dict[str, int] = {}  # roomId -> latest allocated seq
        self.earliest: dict[str, int] = {}  # roomId -> earliestSeq (older seqs expired)
        self.page_size = 50  # server-side cap on a page, below the request's limit
        # roomId (None: the whole tenant) -> user ids online, paged as v1.1 does; read at each
        # request, so a test may change it between pages. Rooms not in it: the v1 replies.
        self.online: dict[str | None, list[str]] = {}
        self.presence_page_size = 100  # the server's page when a request gives no limit
        # action -> replies to give, in order, one per request, before the normal one: a dict
        # of ack fields to override, or an error frame (with "type": "error" and a code).
        self.scripted: dict[str, list[Frame]] = {}
        self.frames: asyncio.Queue[tuple[int, Frame]] = asyncio.Queue()
        self.received: list[tuple[int, Frame]] = []  # every frame, kept (frames is consumed)
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

    def requests(self, action: str) -> list[Frame]:
        """Every frame of one action received so far, in order."""
        return [frame for _, frame in self.received if frame.get("action") == action]

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

    def publish(
        self,
        room_id: str,
        *,
        kind: str = "message",
        store: bool = True,
        sender: str = "bob",
        data: Any = None,
    ) -> Frame:
        """The next numbered frame of a room (v1.1), stored in history unless ``store`` is
        False (a skipped seq: allocated, never stored). Push it to deliver it live."""
        seq = self.latest.get(room_id, 0) + 1
        self.latest[room_id] = seq
        message_id = f"{room_id}-{seq}"
        frame: Frame
        if kind == "message":
            frame = {
                "type": "message",
                "roomId": room_id,
                "messageId": message_id,
                "seq": seq,
                "from": {"userId": sender},
                "data": {"n": seq} if data is None else data,
                "sentAt": "2026-01-01T00:00:00Z",
            }
        else:
            frame = {
                "type": "event",
                "target": {"roomId": room_id},
                "event": "tick",
                "messageId": message_id,
                "seq": seq,
                "data": {"n": seq} if data is None else data,
            }
        if store:
            self.history.setdefault(room_id, []).append(frame)
        return frame

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
        self.received.append((index, frame))
        action = frame.get("action")
        if action in self.silent or action in self.held:
            return
        script = self.scripted.get(str(action))
        if script:
            entry = script.pop(0)
            if entry.get("type") == "error":
                error = _error(action, frame.get("requestId"), str(entry.get("code")))
                await self._send(ws, error | entry)
            else:
                await self._send(ws, self._ack(frame, entry))
        elif action in self.errors:
            await self._send(ws, _error(action, frame.get("requestId"), self.errors[action]))
        elif action in {"joinRoom", "leaveRoom", "sendMessage", "heartbeat", "getPresence"} or (
            self.v11 and action in {"getHistory", "refreshToken"}
        ):
            await self._send(ws, self._ack(frame, {}))
        else:
            await self._send(ws, _error(action, frame.get("requestId"), "unknown_action"))

    def _ack(self, frame: Frame, fields: dict[str, Any]) -> Frame:
        """The ack protocol v1 defines for the frame's action, with test overrides."""
        action = frame.get("action")
        body: Frame = {}
        if action == "joinRoom":
            body = {"roomId": frame["roomId"], "members": [{"userId": "alice"}]}
            if frame["roomId"] in self.online:
                body |= self._users_page(frame, "members")
            if self.v11:
                body["latestSeq"] = self._latest(frame["roomId"])
        elif action == "leaveRoom":
            body = {"roomId": frame["roomId"]}
        elif action == "sendMessage":
            self._message_ids += 1
            body = {"roomId": frame["roomId"], "messageId": f"m-{self._message_ids}"}
            if self.v11 and not self.history_off and frame.get("ephemeral") is not True:
                stored = self.publish(frame["roomId"], sender="alice", data=frame.get("data"))
                stored["messageId"] = body["messageId"]
                body["seq"] = stored["seq"]
        elif action == "heartbeat":
            body = {"serverTime": "2026-01-01T00:00:00Z"}
        elif action == "getPresence":
            body = {"users": [{"userId": "alice"}, {"userId": "bob"}]}
            if frame.get("roomId") in self.online:
                body = self._users_page(frame, "users")
        elif action == "getHistory":
            body = self._history_page(frame)
        elif action == "refreshToken":
            body = {"expiresAt": "2026-01-01T02:00:00Z"}
        head = {"type": "ack", "action": action, "requestId": frame.get("requestId")}
        return head | body | fields

    def _users_page(self, frame: Frame, key: str) -> Frame:
        """One page of the users online (protocol v1.1), under ``key``."""
        room_id = frame.get("roomId")
        everyone = sorted(self.online[room_id])
        cursor = frame.get("cursor")
        after = [user for user in everyone if cursor is None or user > cursor]
        page = after[: frame.get("limit") or self.presence_page_size]
        body: Frame = {key: [{"userId": user} for user in page]}
        if room_id is not None:
            body |= {"roomId": room_id, "memberCount": len(everyone)}
        if len(after) > len(page):
            body |= {"nextCursor": page[-1], "truncated": True}
        return body

    def _latest(self, room_id: str) -> int:
        return 0 if self.history_off else self.latest.get(room_id, 0)

    def _history_page(self, frame: Frame) -> Frame:
        """A getHistory ack per docs/PROTOCOL.md, from what the tests stored."""
        room_id = frame["roomId"]
        head: Frame = {"roomId": room_id}
        if self.history_off:
            return head | {"messages": [], "latestSeq": 0, "earliestSeq": 1, "hasMore": False}
        latest = self._latest(room_id)
        earliest = self.earliest.get(room_id, 1)
        limit = min(frame.get("limit") or 50, self.page_size)
        stored = [m for m in self.history.get(room_id, []) if m["seq"] >= earliest]
        after = frame.get("afterSeq")
        if after is None:
            page, more = stored[-limit:], False
        else:
            rest = [m for m in stored if m["seq"] > after]
            page, more = rest[:limit], len(rest) > limit
        return head | {
            "messages": page,
            "latestSeq": latest,
            "earliestSeq": earliest,
            "hasMore": more,
        }

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
