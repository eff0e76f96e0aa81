"""asyncio client for protocol v1.1 (and v1 servers): the same semantics as the JS client.

It reconnects with full-jitter exponential backoff, heartbeats well under the 10-minute idle
timeout, rejoins remembered rooms after a reconnect and correlates every request with its
reply by requestId. With a v1.1 server it also delivers each room's frames in seq order and
once, fetches what a reconnect or a lost frame missed from history (wsclient.continuity), and
refreshes the token in-band before it expires (wsclient.tokens). See docs/CLIENTS.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import random as _random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from wsclient import presence
from wsclient.continuity import (
    DEFAULT_GAP_WAIT_S,
    HISTORY_PAGE_LIMIT,
    HistoryFailed,
    Sequencer,
    seq_of,
)
from wsclient.holds import Holds
from wsclient.tokens import jwt_expiry, refresh_time

if TYPE_CHECKING:
    from types import TracebackType

    from websockets.asyncio.client import ClientConnection

log = logging.getLogger("wsclient")

Frame = dict[str, Any]
State = Literal["connecting", "open", "reconnecting", "closed"]
TokenSource = str | Callable[[], str | Awaitable[str]]
Listener = Callable[[Any], object]

PROTOCOL_ERROR_CODES: Final = (
    "invalid_json",
    "unknown_action",
    "invalid_request",
    "forbidden",
    "not_member",
    "payload_too_large",
    "rate_limited",
    "internal_error",
)
EVENT_TYPES: Final = (
    "message",
    "presence",
    "event",
    "state",
    "error",
    "rejoin",
    "discontinuity",
    "token_refreshed",
)
SERVER_EVENT_TYPES: Final = ("message", "presence", "event")
# What events() can stream: the server frames, and the client's report of what they missed.
STREAM_EVENT_TYPES: Final = (*SERVER_EVENT_TYPES, "discontinuity")

IDLE_TIMEOUT_S: Final = 600.0
MAX_HEARTBEAT_INTERVAL_S: Final = 480.0  # 8 minutes: 2 minutes of slack under the idle timeout
DEFAULT_HEARTBEAT_INTERVAL_S: Final = 300.0
DEFAULT_REQUEST_TIMEOUT_S: Final = 10.0
DEFAULT_BACKOFF_BASE_S: Final = 0.5
DEFAULT_BACKOFF_CAP_S: Final = 30.0
DEFAULT_MAX_MESSAGE_BYTES: Final = 32 * 1024  # API Gateway frame limit
AUTH_REJECT_STATUSES: Final = frozenset({401, 403})


class ClientError(Exception):
    """A failed request or connection, with the protocol error code or a client-side one.

    Client-side codes: ``timeout``, ``disconnected``, ``handshake_rejected`` (HTTP 401/403 at
    connect, ``status`` set), ``token_error``, ``invalid_url``, ``invalid_frame`` and
    ``payload_too_large`` (refused before sending). ``retry_after_ms`` is the wait a
    ``rate_limited`` error frame asks for, when it says.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        frame: Frame | None = None,
        close_code: int | None = None,
        status: int | None = None,
        room_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame = frame
        self.close_code = close_code
        self.status = status
        self.room_id = room_id
        wait = frame.get("retryAfterMs") if frame is not None else None
        valid = isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0
        self.retry_after_ms: float | None = wait if valid else None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def is_terminal_close_code(code: int) -> bool:
    """1008 (policy violation) and 4000-4999 (application decisions such as auth) end it.

    Every other code (1000 from a management-API delete or token expiry, 1001 idle or 2 h
    limit, 1006 network loss, 1009 too large, 1011 server error) is followed by a reconnect.
    """
    return code == 1008 or 4000 <= code <= 4999


def backoff_delay(
    attempt: int, base: float, cap: float, random: Callable[[], float] = _random.random
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)), so clients that lost the same
    gateway do not come back in lockstep."""
    ceiling = cap if attempt >= 64 else min(cap, base * 2**attempt)
    return random() * ceiling


def with_token(url: str, token: str) -> str:
    """Return url with ``token`` set in its query string (browsers cannot send headers)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _check_url(url: str) -> str:
    """Fail fast on a URL that can never work; return host:port for messages (no token)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("url is not a valid URL") from None
    if parts.scheme not in {"ws", "wss"} or not parts.hostname:
        raise ValueError("url must be ws://host[:port]/path or wss://...")
    return f"{parts.hostname}:{port or (443 if parts.scheme == 'wss' else 80)}"


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


class _Dropped(Exception):
    """A connection attempt or a connection ended; carries the close code for the decision."""

    def __init__(self, code: int, reason: str, error: ClientError | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.error = error


class EventStream:
    """An async iterator of server events, subscribed from creation until the client closes."""

    def __init__(self, wanted: frozenset[str], registry: set[EventStream]) -> None:
        self._wanted = wanted
        self._registry = registry
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        registry.add(self)

    def feed(self, frame: Frame) -> None:
        if frame.get("type") in self._wanted:
            self._queue.put_nowait(frame)

    def end(self) -> None:
        """No more frames: iteration stops once the buffered ones are read."""
        self._registry.discard(self)
        self._queue.put_nowait(None)

    def close(self) -> None:
        """Stop buffering now; pending frames are dropped."""
        self._registry.discard(self)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Frame:
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)  # stay ended for any further __anext__
            raise StopAsyncIteration
        return frame


class WsClient:
    """A protocol v1 connection that survives drops. Use ``async with`` or connect()/close()."""

    def __init__(
        self,
        url: str,
        token: TokenSource,
        *,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL_S,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        backoff_base: float = DEFAULT_BACKOFF_BASE_S,
        backoff_cap: float = DEFAULT_BACKOFF_CAP_S,
        max_reconnect_attempts: int | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        open_timeout: float = 10.0,
        is_terminal_close: Callable[[int], bool] = is_terminal_close_code,
        random: Callable[[], float] = _random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        gap_wait: float = DEFAULT_GAP_WAIT_S,
    ) -> None:
        if not isinstance(token, str) and not callable(token):
            raise TypeError("token must be a string or a callable returning one")
        _check_range("heartbeat_interval", heartbeat_interval, 1e-3, MAX_HEARTBEAT_INTERVAL_S)
        _check_range("request_timeout", request_timeout, 1e-3, float("inf"))
        _check_range("backoff_base", backoff_base, 0, float("inf"))
        _check_range("backoff_cap", backoff_cap, backoff_base, float("inf"))
        _check_range("max_message_bytes", max_message_bytes, 1, float("inf"))
        if max_reconnect_attempts is not None:
            _check_range("max_reconnect_attempts", max_reconnect_attempts, 0, float("inf"))
        _check_range("gap_wait", gap_wait, 0, float("inf"))
        self._where = _check_url(url)
        self.url = url
        self._token = token
        self.heartbeat_interval = heartbeat_interval
        self.request_timeout = request_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_reconnect_attempts = max_reconnect_attempts
        self.max_message_bytes = max_message_bytes
        self.open_timeout = open_timeout
        self._is_terminal = is_terminal_close
        self._random = random
        self._sleep = sleep
        self._state: State = "closed"
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._holds = Holds(sleep)  # actions held after rate_limited
        self._rooms: dict[str, None] = {}  # insertion-ordered set
        self._listeners: dict[str, list[Listener]] = {t: [] for t in EVENT_TYPES}
        self._streams: set[EventStream] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._connected: asyncio.Future[None] | None = None
        self._closed_event = asyncio.Event()
        self._closed_event.set()
        self._background: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(4)
        self.close_info: dict[str, Any] = {}
        self._seq = Sequencer(
            deliver=self._dispatch,
            fetch=self._fetch_history,
            sleep=sleep,
            report_error=self._history_error,
            gap_wait=gap_wait,
        )
        self._conn_token: tuple[str, float] = ("", 0.0)  # this connection's token, when obtained
        self._refresh_unsupported = False  # a v1 server answered refreshToken unknown_action

    # ---- public API -------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def rooms(self) -> list[str]:
        """Rooms that will be rejoined after a reconnect."""
        return list(self._rooms)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection, retrying with backoff; raise ClientError if it ends first."""
        if self._state == "open":
            return
        if self._supervisor is None:
            loop = asyncio.get_running_loop()
            self._connected = loop.create_future()
            self._connected.add_done_callback(_consume_exception)
            self._closed_event.clear()
            self.close_info = {}
            self._set_state("connecting")
            self._supervisor = asyncio.create_task(self._run(), name="wsclient-supervisor")
        assert self._connected is not None
        await asyncio.shield(self._connected)

    async def request(
        self, action: str, fields: Frame | None = None, *, timeout: float | None = None
    ) -> Frame:
        """Send ``{action, requestId, **fields}`` and return the ack frame.

        Raise ClientError with the protocol error code, ``timeout``, ``disconnected`` or
        ``payload_too_large`` (checked before sending). After a ``rate_limited`` reply with
        ``retryAfterMs``, requests of that action wait until then before they are sent (in
        order; the timeout counts from the sending).
        """
        ws = self._ws
        if self._state != "open" or ws is None:
            raise ClientError("disconnected", f"not connected (state {self._state})")
        request_id = f"{self._id_prefix}-{next(self._ids)}"
        try:
            text = json.dumps({**(fields or {}), "action": action, "requestId": request_id})
        except (TypeError, ValueError) as exc:
            message = f"fields are not JSON-serialisable: {exc}"
            raise ClientError("invalid_request", message) from exc
        size = len(text.encode())
        if size > self.max_message_bytes:
            raise ClientError(
                "payload_too_large", f"frame of {size} bytes exceeds {self.max_message_bytes}"
            )
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        limit = self.request_timeout if timeout is None else timeout
        try:
            await self._holds.wait(action, future)
            if not future.done():  # not failed while held (a drop, close())
                await ws.send(text)
            async with asyncio.timeout(limit):
                return await future
        except ConnectionClosed as exc:
            raise ClientError("disconnected", "connection closed while sending") from exc
        except TimeoutError as exc:
            raise ClientError("timeout", f"{action} got no reply within {limit} s") from exc
        finally:
            self._pending.pop(request_id, None)

    async def join_room(self, room_id: str, *, limit: int | None = None) -> Frame:
        """Join a room; it is remembered and rejoined after reconnects once acked.

        The ack's ``latestSeq`` is where the room's delivery starts: frames up to it were sent
        before the join. Frames that arrive before the ack wait for it. Its ``members`` is
        the first page of the users online (``limit`` of them, 1-500, server default 100);
        v1.1 adds ``memberCount`` and, when more follow, ``nextCursor``:
        ``presence_pages(room_id, cursor=ack["nextCursor"])`` fetches the rest.
        """
        first = self._seq.track(room_id)
        try:
            ack = await self.request("joinRoom", {"roomId": room_id, **_given(limit=limit)})
        except BaseException:
            if first:
                self._seq.join_failed(room_id)
            raise
        self._rooms[room_id] = None
        self._seq.joined(room_id, ack)
        return ack

    async def leave_room(self, room_id: str) -> Frame:
        """Leave a room, forgetting it first so a failed leave is never undone by a rejoin."""
        self._rooms.pop(room_id, None)
        self._seq.forget(room_id)
        return await self.request("leaveRoom", {"roomId": room_id})

    async def send_message(self, room_id: str, data: Any, *, ephemeral: bool = False) -> Frame:
        """Send to a room; the ack carries ``messageId`` and (v1.1, unless ephemeral) ``seq``.

        ``ephemeral=True``: not numbered, not stored, best effort (cursor positions, prices).
        """
        fields: Frame = {"roomId": room_id, "data": data}
        if ephemeral:
            fields["ephemeral"] = True
        return await self.request("sendMessage", fields)

    async def get_history(
        self, room_id: str, *, after_seq: int | None = None, limit: int | None = None
    ) -> Frame:
        """One page of a room's stored messages: the raw ack (``messages``, ``latestSeq``,
        ``earliestSeq``, ``hasMore``).

        For the application's own use, such as loading older messages: delivery does not
        need it (the client fills its gaps by itself) and is not affected by it. Without
        ``after_seq``, the latest ``limit`` messages.
        """
        fields = {"roomId": room_id, **_given(afterSeq=after_seq, limit=limit)}
        return await self.request("getHistory", fields)

    async def get_presence(
        self, room_id: str | None = None, *, cursor: str | None = None, limit: int | None = None
    ) -> Frame:
        """One page of the users online in a room, or in the whole tenant when room_id is
        None: the raw ack (``users`` in user id order; v1.1: ``memberCount`` for a room,
        ``nextCursor`` when more follow). ``cursor``: a page's ``nextCursor``; ``limit``:
        1-500, server default 100.
        """
        fields = _given(roomId=room_id, cursor=cursor, limit=limit)
        return await self.request("getPresence", fields)

    async def presence_pages(
        self, room_id: str | None = None, *, cursor: str | None = None, limit: int | None = None
    ) -> AsyncIterator[Frame]:
        """Every page of get_presence, following ``nextCursor`` to the last page.

        From after ``cursor`` when given (a joinRoom ack's ``nextCursor``: the rest of the
        room). A failed request ends it with that request's ClientError; a page whose
        ``nextCursor`` is the cursor it was asked with, with ``invalid_frame``.
        """
        while True:
            page = await self.get_presence(room_id, cursor=cursor, limit=limit)
            yield page
            following = presence.next_cursor(page)
            if following is None:  # the last page (or a v1 server)
                return
            if following == cursor:
                raise ClientError("invalid_frame", "getPresence answered with its own cursor")
            cursor = following

    async def presence_all(
        self, room_id: str | None = None, *, cursor: str | None = None, limit: int | None = None
    ) -> presence.PresenceList:
        """All users online in a room (or the tenant), every page fetched (presence_pages).

        Users who come or go while it pages may be missed, or listed though gone: presence
        frames tell of them.
        """
        found = presence.PresenceList()
        async for page in self.presence_pages(room_id, cursor=cursor, limit=limit):
            found.user_ids.extend(presence.page_user_ids(page))
            count = presence.member_count(page)
            if count is not None:
                found.member_count = count
        return found

    async def heartbeat(self) -> Frame:
        return await self.request("heartbeat")

    def on(self, event_type: str, fn: Listener) -> Callable[[], None]:
        """Call fn for each event of a type in EVENT_TYPES (``message``, ``discontinuity``...).

        Returns a function that unsubscribes.
        """
        self._listeners_of(event_type).append(fn)
        return lambda: self.off(event_type, fn)

    def off(self, event_type: str, fn: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners_of(event_type).remove(fn)

    def events(self, *types: str) -> EventStream:
        """Server events (the three server frame types by default), buffered from this call on.

        ``discontinuity`` reports can be streamed too, when asked for by name (the default
        stays the server frames, which is what a v1 application expects to iterate).
        ``async for frame in client.events(): ...`` ends when the client closes for good.
        Call ``close()`` on a stream you stop reading, or it keeps buffering.
        """
        wanted = frozenset(types or SERVER_EVENT_TYPES)
        other = sorted(wanted - set(STREAM_EVENT_TYPES))
        if other:  # state/error/rejoin are not server frames: subscribe with on()
            raise ValueError(f"events() streams {STREAM_EVENT_TYPES}; use on() for {other}")
        stream = EventStream(wanted, self._streams)
        if self._closed_event.is_set():
            stream.end()
        return stream

    async def wait_closed(self) -> dict[str, Any]:
        """Wait until the client stops for good; return why (``close_info``)."""
        await self._closed_event.wait()
        return self.close_info

    async def close(self, code: int = 1000, reason: str = "client closed") -> None:
        """Close for good: no reconnect, pending requests fail with ``disconnected``.

        The joined rooms are kept, so a later connect() rejoins them.
        """
        supervisor, self._supervisor = self._supervisor, None
        ws, self._ws = self._ws, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(code, reason)
        error = ClientError("disconnected", "client closed", close_code=code)
        self._stop(error, {"code": code, "reason": reason, "by_user": True}, emit_error=False)

    # ---- connection lifecycle ---------------------------------------------------------------

    async def _run(self) -> None:
        """Supervise; a bug in here must end the client visibly, never leave connect() hanging."""
        try:
            await self._reconnect_loop()
        except Exception as exc:
            log.exception("wsclient: supervisor failed")
            error = ClientError("internal_error", f"client failure: {type(exc).__name__}")
            self._stop(error, {"code": 1006, "reason": "client failure"})

    async def _reconnect_loop(self) -> None:
        """Dial, serve the connection, and on a drop back off and dial again."""
        attempt = 0
        while True:
            try:
                ws = await self._dial()
                attempt = 0
                await self._serve(ws)
            except _Dropped as drop:
                stop = self._stop_reason(drop, attempt)
                if stop is not None:
                    self._stop(*stop)
                    return
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap, self._random)
                attempt += 1
                self._set_state(
                    "reconnecting",
                    {"code": drop.code, "reason": drop.reason, "attempt": attempt, "delay": delay},
                )
                await self._sleep(delay)

    def _stop_reason(
        self, drop: _Dropped, attempt: int
    ) -> tuple[ClientError, dict[str, Any]] | None:
        """None to reconnect, else the error and close info to stop with."""
        info: dict[str, Any] = {"code": drop.code, "reason": drop.reason}
        if drop.error is not None and drop.error.code in {"handshake_rejected", "invalid_url"}:
            return drop.error, {**info, "terminal": True}
        if self._is_terminal(drop.code):
            message = f"closed by server (code {drop.code}): {drop.reason}"
            error = ClientError("disconnected", message, close_code=drop.code)
            return error, {**info, "terminal": True}
        limit = self.max_reconnect_attempts
        if limit is not None and attempt >= limit:
            cause = drop.error.message if drop.error else f"connection closed (code {drop.code})"
            if attempt:
                cause = f"gave up after {attempt} reconnect attempts; last: {cause}"
            error = ClientError("disconnected", cause, close_code=drop.code)
            if drop.error is not None:
                error.status = drop.error.status
            return error, {**info, "gave_up": True}
        return None

    async def _dial(self) -> ClientConnection:
        """One attempt: fetch a fresh token, then open the socket."""
        try:
            token = await self._fetch_token()
        except Exception as exc:  # any provider failure is a failed attempt
            error = ClientError("token_error", f"token provider failed: {type(exc).__name__}")
            self._emit("error", error)
            raise _Dropped(1006, "token provider failed", error) from exc
        self._conn_token = (token, time.time())
        try:
            return await ws_connect(
                with_token(self.url, token),
                open_timeout=self.open_timeout,
                ping_interval=None,  # protocol heartbeats, as browsers (which cannot ping) do
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            code = "handshake_rejected" if status in AUTH_REJECT_STATUSES else "disconnected"
            message = f"cannot connect to {self._where}: handshake rejected with HTTP {status}"
            raise _Dropped(1006, message, ClientError(code, message, status=status)) from exc
        except InvalidURI as exc:  # its message holds the URL, hence the token: not repeated
            error = ClientError("invalid_url", "invalid WebSocket URL")
            raise _Dropped(1006, "invalid url", error) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else None
            why = why or (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
            message = f"cannot connect to {self._where}: {why}"
            raise _Dropped(1006, message, ClientError("disconnected", message)) from exc

    async def _fetch_token(self) -> str:
        source = self._token
        token = source if isinstance(source, str) else source()
        if inspect.isawaitable(token):
            token = await token
        if not isinstance(token, str) or not token:
            raise TypeError("token provider returned no token")
        return token

    async def _refresh_loop(self, token: str, obtained: float) -> None:
        """Send a fresh token before this connection's expires, so the connection lives on.

        Any failure leaves it to the v1 behaviour: the server closes the connection at
        expiry and the reconnect fetches a fresh token.
        """
        try:
            while not self._refresh_unsupported:
                exp = jwt_expiry(token)
                if exp is None or exp <= time.time():
                    return  # not a JWT with exp (nothing to schedule by), or expired already
                await self._sleep(max(0.0, refresh_time(exp, obtained) - time.time()))
                if not await self._refresh_once(exp):
                    return
                token, obtained = self._conn_token
        except Exception:
            log.exception("wsclient: token refresh failed")

    async def _refresh_once(self, exp: float) -> bool:
        """One in-band refresh; True when the connection now has a later expiry."""
        try:
            fresh = await self._fetch_token()
        except Exception as exc:
            error = ClientError("token_error", f"token provider failed: {type(exc).__name__}")
            self._emit("error", error)
            return False
        fresh_exp = jwt_expiry(fresh)
        if fresh_exp is not None and fresh_exp <= exp:
            log.info("token provider returned no later token: refresh at the reconnect")
            return False
        obtained = time.time()
        try:
            ack = await self.request("refreshToken", {"token": fresh})
        except ClientError as exc:
            if exc.code == "unknown_action":
                self._refresh_unsupported = True  # a v1 server: never ask it again
            elif exc.code != "disconnected":
                self._emit("error", exc)  # e.g. forbidden: the old expiry stands
            return False
        self._conn_token = (fresh, obtained)
        self._emit(
            "token_refreshed", {"type": "token_refreshed", "expiresAt": ack.get("expiresAt")}
        )
        return True

    async def _serve(self, ws: ClientConnection) -> None:
        """Run one open connection until it closes; always raises _Dropped."""
        self._ws = ws
        self._seq.online(True)
        self._set_state("open")
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(None)
        heartbeat = asyncio.create_task(self._heartbeat_loop(ws), name="wsclient-heartbeat")
        refresher = None
        if not isinstance(self._token, str):  # only a provider can give a fresh token
            refresher = asyncio.create_task(
                self._refresh_loop(*self._conn_token), name="wsclient-token-refresh"
            )
        for room_id in list(self._rooms):
            self._spawn(self._rejoin(room_id))
        try:
            async for message in ws:
                self._on_frame(message)
        except ConnectionClosed:
            pass
        finally:
            heartbeat.cancel()
            if refresher is not None:
                refresher.cancel()
            self._seq.online(False)
            self._ws = None
            self._reject_pending("connection closed")
        code = ws.close_code if ws.close_code is not None else 1006
        raise _Dropped(code, ws.close_reason or "")

    async def _heartbeat_loop(self, ws: ClientConnection) -> None:
        """Heartbeat forever; an unanswered one means a half-open socket: abort it."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self.heartbeat()
            except ClientError as exc:
                if exc.code == "timeout":
                    log.info("heartbeat unanswered: dropping the connection")
                    ws.transport.abort()
                    return
                if exc.code != "disconnected":
                    self._emit("error", exc)

    async def _rejoin(self, room_id: str) -> None:
        """Rejoin, then resume: what was sent meanwhile comes from history, before newer frames.

        A refusal is final (room forgotten); a drop or timeout is retried next reconnect.
        """
        try:
            ack = await self.request("joinRoom", {"roomId": room_id})
        except ClientError as exc:
            if exc.code == "disconnected":
                return  # reported by the state change; retried on the next reconnect
            if exc.code != "timeout":
                self._rooms.pop(room_id, None)
                self._seq.forget(room_id)
            exc.room_id = room_id
            self._emit("error", exc)
        else:
            self._emit("rejoin", ack)
            if room_id in self._rooms:  # not left meanwhile
                self._seq.rejoined(room_id, ack)

    def _stop(self, error: ClientError, info: dict[str, Any], *, emit_error: bool = True) -> None:
        """Stop for good: fail waiters and pending requests, end iterators, state closed."""
        self._supervisor = None
        self._seq.suspend()  # positions are kept: a later connect() resumes from them
        self._reject_pending(error.message)
        self._holds.clear()
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(error)
        for stream in list(self._streams):
            stream.end()
        if emit_error:
            self._emit("error", error)
        self.close_info = {**info, "error": error}
        if self._state != "closed":
            self._set_state("closed", info)
        self._closed_event.set()

    # ---- frames and events ------------------------------------------------------------------

    def _on_frame(self, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
        except ValueError:
            error = ClientError("invalid_frame", "server sent a frame that is not JSON")
            self._emit("error", error)
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind in {"ack", "error"}:
            self._on_reply(frame)
        elif kind in {"message", "event"}:
            self._seq.on_frame(frame)  # ordered per room, de-duplicated, gaps filled
        elif kind == "presence":
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        """Hand a frame (or a discontinuity report) to listeners and event streams."""
        self._emit(str(frame["type"]), frame)
        for stream in list(self._streams):
            stream.feed(frame)

    async def _fetch_history(self, room_id: str, after_seq: int) -> Frame:
        """A page for the sequencer, whose retry decisions need only the code."""
        fields = {"roomId": room_id, "afterSeq": after_seq, "limit": HISTORY_PAGE_LIMIT}
        try:
            return await self.request("getHistory", fields)
        except ClientError as exc:
            wait = exc.retry_after_ms
            raise HistoryFailed(exc, exc.code, None if wait is None else wait / 1000) from exc

    def _history_error(self, error: Exception, room_id: str) -> None:
        """Why history could not fill a gap (the discontinuity report follows)."""
        if isinstance(error, ClientError):
            error.room_id = room_id
        self._emit("error", error)

    def _on_reply(self, frame: Frame) -> None:
        error = None
        if frame["type"] == "error":
            code = str(frame.get("code"))
            error = ClientError(code, str(frame.get("message") or code), frame=frame)
            if code == "rate_limited":  # before the caller resumes: its next request waits
                self._holds.hold(frame.get("action"), error.retry_after_ms)
        future = self._pending.get(str(frame.get("requestId")))
        if future is None or future.done():
            if error is not None:
                self._emit("error", error)  # e.g. invalid_json, which has no requestId
            return
        if error is not None:
            future.set_exception(error)
            return
        room_id = frame.get("roomId")
        if frame.get("action") == "sendMessage" and isinstance(room_id, str):
            # Before the caller resumes, so that the next frame read already counts it.
            self._seq.own(room_id, seq_of(frame.get("seq")), frame.get("messageId"))
        future.set_result(frame)

    def _reject_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ClientError("disconnected", why))
        self._pending.clear()

    def _set_state(self, state: State, info: dict[str, Any] | None = None) -> None:
        previous, self._state = self._state, state
        self._emit("state", {**(info or {}), "state": state, "previous": previous})

    def _listeners_of(self, event_type: str) -> list[Listener]:
        try:
            return self._listeners[event_type]
        except KeyError:
            raise ValueError(f"unknown event type {event_type!r}; one of {EVENT_TYPES}") from None

    def _emit(self, event_type: str, payload: Any) -> None:
        """A raising listener must not break the client: its error goes to ``error``."""
        for fn in list(self._listeners_of(event_type)):
            try:
                result = fn(payload)
                if inspect.isawaitable(result):
                    self._spawn(result)
            except Exception as exc:
                if event_type == "error":
                    log.exception("wsclient: error listener raised")
                else:
                    self._emit("error", exc)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        """Run a background coroutine, keeping a reference so it is not collected."""
        task = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _given(**fields: Any) -> Frame:
    """The request fields that were given (None ones left out)."""
    return {name: value for name, value in fields.items() if value is not None}


def _consume_exception(future: asyncio.Future[None]) -> None:
    """Mark the connect future's exception as seen: nobody may be awaiting it."""
    if not future.cancelled():
        future.exception()
