"""A fast @connections transport: precomputed SigV4 over persistent HTTP/1.1 connections.

Why: most of the client CPU of a boto3 PostToConnection goes to request serialization, the
event system, the generic signer and urllib3, so a broadcast to a large room is CPU-bound
whatever the thread count. This transport sends the same signed requests for a small
fraction of that CPU (docs/PERFORMANCE.md has the measurements), because:

- SigV4 is computed with the signing key derived once per day and credential, and the
  parts of the canonical request that do not change within a broadcast (method, stage path
  prefix, host, date, payload hash) prepared once; only the connection id varies. The
  result is byte-for-byte what botocore's `SigV4Auth` produces (tests recompute it).
- Requests go over a small pool of keep-alive HTTP/1.1 connections driven by one asyncio
  event loop in a daemon thread. The pool lives as long as the container, so warm
  invocations reuse open (TLS) connections; connections idle longer than `idle_s` are
  dropped before reuse so a frozen-then-thawed container does not write into dead sockets,
  and a request that meets one anyway is sent again at once on a new connection.
- `post_batch` runs a fixed number of worker coroutines that pull connection ids from one
  list: no task, future or thread per message.

The transport only reports HTTP statuses (`NETWORK_ERROR` for a network error or a
timeout); retries and the status -> outcome mapping stay in `ManagementClient`, shared with
`Boto3Transport`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from wscore.aws.management import NETWORK_ERROR
from wscore.aws.sigv4 import (
    Credentials,
    CredentialsProvider,
    LazyCredentials,
    SigningKey,
    amz_date,
)
from wscore.aws.tls import client_context
from wscore.errors import ConfigError
from wscore.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Sequence

log = get_logger("wscore.aws.fast_transport")

SERVICE = "execute-api"
# Added to the longest a request may take before a batch without progress counts as stuck.
_STALL_MARGIN_S = 1.0
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def region_for(host: str, env: dict[str, str] | None = None) -> str:
    """The signing region: from an execute-api host name, else AWS_REGION/AWS_DEFAULT_REGION."""
    match = _REGION_IN_HOST.search(host)
    if match:
        return match.group(1)
    source = os.environ if env is None else env
    return source.get("AWS_REGION") or source.get("AWS_DEFAULT_REGION") or "us-east-1"


class SigV4Signer:
    """SigV4 for execute-api with everything that does not vary per request precomputed."""

    def __init__(self, host: str, region: str, service: str = SERVICE) -> None:
        self.host = host
        self.region = region
        self.service = service
        self.signing_key = SigningKey(region, service)

    def template(
        self, method: str, stage_path: str, payload_hash: str, creds: Credentials, amz_date: str
    ) -> SignedTemplate:
        """The fixed parts of the canonical request, string to sign and headers."""
        signed = "host;x-amz-date" + (";x-amz-security-token" if creds.token else "")
        headers = f"host:{self.host}\nx-amz-date:{amz_date}\n"
        if creds.token:
            headers += f"x-amz-security-token:{creds.token}\n"
        datestamp = amz_date[:8]
        scope = self.signing_key.scope(datestamp)
        # botocore quotes the (already percent-encoded) path again for non-S3 services.
        prefix = f"{method}\n{quote(stage_path + '/@connections/', safe='/~')}"
        extra = f"X-Amz-Security-Token: {creds.token}\r\n" if creds.token else ""
        return SignedTemplate(
            canonical_prefix=prefix,
            canonical_suffix=f"\n\n{headers}\n{signed}\n{payload_hash}",
            sts_prefix=f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n",
            key=self.signing_key(creds.secret_key, datestamp),
            auth_prefix=(
                f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature="
            ),
            head_prefix=f"{method} {stage_path}/@connections/",
            head_fixed=(f" HTTP/1.1\r\nHost: {self.host}\r\nX-Amz-Date: {amz_date}\r\n{extra}"),
        )


@dataclass(frozen=True, slots=True)
class SignedTemplate:
    canonical_prefix: str
    canonical_suffix: str
    sts_prefix: str
    key: bytes
    auth_prefix: str
    head_prefix: str
    head_fixed: str

    def request_head(self, connection_id: str, tail: str) -> bytes:
        """The request line and headers for one connection id (tail: length/close headers)."""
        encoded = quote(connection_id, safe="-._~")
        canonical = self.canonical_prefix + quote(encoded, safe="/~") + self.canonical_suffix
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        signature = hmac.digest(self.key, (self.sts_prefix + digest).encode(), "sha256").hex()
        return (
            f"{self.head_prefix}{encoded}{self.head_fixed}"
            f"Authorization: {self.auth_prefix}{signature}\r\n{tail}\r\n"
        ).encode()


class _Dates:
    """X-Amz-Date per wall-clock second (a broadcast may straddle a second boundary)."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def current(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second, self._value = second, amz_date(second)
        return self._value


class _ResponseParser:
    """An incremental HTTP/1.1 response parser (status, Content-Length or chunked body)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> tuple[int, bool] | None:
        """Add bytes; return (status, keep_alive) once a whole response is buffered."""
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError("malformed status line")
        status = int(parts[1])
        fields: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        keep_alive = fields.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
        body = end + 4
        size: int
        if status in (204, 304) or 100 <= status < 200:
            size = 0
        elif "chunked" in fields.get("transfer-encoding", "").lower():
            chunked_end = self._chunked_end(body)
            if chunked_end is None:
                return None
            size = chunked_end - body
        elif "content-length" in fields:
            size = int(fields["content-length"])
        else:
            return None  # body until close: the caller resolves it on EOF, never reused
        if len(self.buf) < body + size:
            return None
        del self.buf[: body + size]
        return status, keep_alive

    def _chunked_end(self, pos: int) -> int | None:
        """Offset just past the last chunk and trailers, or None when incomplete."""
        buf = self.buf
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", pos - 2)
                return None if trailer_end < 0 else trailer_end + 4
            pos += size + 2
            if pos > len(buf):
                return None

    def status_at_eof(self) -> int:
        """The status of a response delimited by connection close (no length given)."""
        if self.buf.startswith(b"HTTP/1.") and b"\r\n\r\n" in self.buf:
            return int(bytes(self.buf[9:12]))
        return NETWORK_ERROR


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one request at a time (no pipelining).

    `dropped` tells a request that failed because the connection was already dead, or died
    before a single byte of the response arrived, from one that failed for any other reason
    (a timeout, a malformed or truncated response): only the former is safe to send again
    at once on another connection.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = _ResponseParser()
        self._waiter: asyncio.Future[int] | None = None
        self.reusable = True
        self.dropped = False
        self.last_used = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.close()  # unsolicited bytes (e.g. a 408 on idle): never reuse
            return
        try:
            done = self._parser.feed(data)
        except ValueError:
            self.close()
            waiter.set_result(NETWORK_ERROR)
            return
        if done is not None:
            status, keep_alive = done
            if not keep_alive:
                self.close()
            self._waiter = None
            waiter.set_result(status)

    def eof_received(self) -> bool | None:
        self.reusable = False
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self.dropped = not self._parser.buf
            waiter.set_result(self._parser.status_at_eof())
        self._waiter = None

    def close(self) -> None:
        self.reusable = False
        if self._transport is not None:
            self._transport.close()

    async def request(self, payload: Sequence[bytes], read_timeout: float) -> int:
        """Write one request and wait for its status (0 on timeout or a lost connection)."""
        if self._transport is None or self._transport.is_closing():
            self.reusable = False
            self.dropped = True
            return NETWORK_ERROR
        waiter: asyncio.Future[int] = self._loop.create_future()
        self._waiter = waiter
        self._transport.writelines(payload)
        timer = self._loop.call_later(read_timeout, self._time_out, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            self.close()  # its response may still come: the connection is unusable
            raise
        finally:
            timer.cancel()
            self.last_used = time.monotonic()

    def _time_out(self, waiter: asyncio.Future[int]) -> None:
        if not waiter.done():
            waiter.set_result(NETWORK_ERROR)
            self.close()


class _Batch:
    """A batch's statuses as they arrive (NETWORK_ERROR until known) and how many arrived.

    Written by the event loop, read by the caller's thread when the batch stalls.
    """

    __slots__ = ("finished", "statuses")

    def __init__(self, size: int) -> None:
        self.statuses = [NETWORK_ERROR] * size
        self.finished = 0


class FastTransport:
    """The @connections transport over a persistent connection pool (see module docstring)."""

    def __init__(
        self,
        endpoint: str,
        max_concurrency: int = 64,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        idle_s: float = 15.0,
        credentials: CredentialsProvider | None = None,
        region: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        url = urlsplit(endpoint.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"management endpoint must be an http(s) URL, got {endpoint!r}")
        self.max_concurrency = max_concurrency
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        default_port = self._port == (443 if self._https else 80)
        host_header = self._host if default_port else f"{self._host}:{self._port}"
        self._stage_path = url.path.rstrip("/")
        self._signer = SigV4Signer(host_header, region or region_for(self._host))
        self._creds = LazyCredentials(credentials)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._idle_s = idle_s
        self._ssl = ssl_context
        self._idle: list[_Connection] = []
        self._dates = _Dates()

    # -- synchronous API used by ManagementClient ------------------------------------------

    def post(self, connection_id: str, data: bytes) -> int:
        return self.post_batch([connection_id], data)[0]

    def delete(self, connection_id: str) -> int:
        return self._run("DELETE", [connection_id], b"", None)[0]

    def post_batch(
        self, connection_ids: Sequence[str], data: bytes, delays: Sequence[float] | None = None
    ) -> list[int]:
        """POST `data` to every id; `delays[i]` postpones id i (jittered retries)."""
        if not connection_ids:
            return []
        return self._run("POST", connection_ids, data, delays)

    def close(self) -> None:
        """Close the pooled connections (tests; a Lambda container just freezes)."""
        if _loop is not None:
            asyncio.run_coroutine_threadsafe(self._close_idle(), _loop).result(_STALL_MARGIN_S)

    # -- internals --------------------------------------------------------------------------

    def _run(
        self, method: str, ids: Sequence[str], data: bytes, delays: Sequence[float] | None
    ) -> list[int]:
        """Send a batch on the event loop and wait for it, but never forever.

        Every request is bounded by its own timeouts, so a batch in which no request has
        finished for longer than one request can take (plus the longest delay) is stuck: a
        bug, or a wedged loop. It is then cancelled and the ids without a status are
        reported as network errors (the retry policy decides what follows), so that the
        invocation goes on instead of hanging until Lambda kills it. A large batch may take
        long in all: only a stall is cut short, not a slow but progressing broadcast.
        """
        # Credentials are read here, in the caller's thread: a refresh may block on I/O.
        batch = _Batch(len(ids))
        coro = self._send_all(method, ids, data, delays, creds=self._creds(), batch=batch)
        future = asyncio.run_coroutine_threadsafe(coro, event_loop())
        longest_delay = max(delays or (), default=0.0)
        # A reused connection found dead is replaced: connect + read, after a failed read.
        window = self._connect_timeout + 2 * self._read_timeout + longest_delay
        finished = 0
        while True:
            try:
                future.result(window + _STALL_MARGIN_S)
            except TimeoutError:
                if batch.finished == finished:
                    break
                finished = batch.finished
            else:
                return batch.statuses
        future.cancel()
        log.warning(
            "management batch stalled and was cancelled",
            extra={"requests": len(ids), "finished": finished},
        )
        return list(batch.statuses)

    async def _close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def _send_all(
        self,
        method: str,
        ids: Sequence[str],
        data: bytes,
        delays: Sequence[float] | None,
        *,
        creds: Credentials,
        batch: _Batch,
    ) -> None:
        payload_hash = hashlib.sha256(data).hexdigest() if data else _EMPTY_SHA256
        tail = f"Content-Length: {len(data)}\r\n"  # boto3 sends it for DELETE too (0)
        templates: dict[str, SignedTemplate] = {}

        def head(connection_id: str) -> bytes:
            date = self._dates.current()
            template = templates.get(date)
            if template is None:
                template = templates[date] = self._signer.template(
                    method, self._stage_path, payload_hash, creds, date
                )
            return template.request_head(connection_id, tail)

        statuses = batch.statuses
        order = list(range(len(ids)))
        if delays is not None:
            order.sort(key=delays.__getitem__)
        loop = asyncio.get_running_loop()
        start = loop.time()
        queue = iter(order)

        async def worker() -> None:
            for i in queue:
                if delays is not None and delays[i] > 0:
                    wait = start + delays[i] - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                statuses[i] = await self._exchange((head(ids[i]), data))
                batch.finished += 1

        workers = min(self.max_concurrency, len(ids))
        if workers == 1:
            await worker()
        else:
            await asyncio.gather(*(worker() for _ in range(workers)))

    async def _exchange(self, payload: tuple[bytes, bytes]) -> int:
        """One request on a pooled or new connection; 0 when it cannot be completed.

        A pooled connection may have been closed by the server while idle (its keep-alive
        timeout, or a container frozen past it). When a request on a reused connection
        fails before any response byte, it is sent once more, at once, on a new connection,
        as urllib3 does for a stale pooled connection: the service never answered it, so
        this is not a retry and must not cost one (nor its backoff) in the retry policy.
        """
        message = payload if payload[1] else payload[:1]
        conn = self._pooled()
        if conn is not None:
            status = await self._request(conn, message)
            if not conn.dropped:
                return status
        try:
            conn = await self._connect()
        except (OSError, TimeoutError, ssl.SSLError):
            return NETWORK_ERROR
        return await self._request(conn, message)

    async def _request(self, conn: _Connection, message: Sequence[bytes]) -> int:
        """One request on `conn`, which goes back to the pool if it stays usable."""
        status = await conn.request(message, self._read_timeout)
        if conn.reusable:
            self._idle.append(conn)
        return status

    def _pooled(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable and now - conn.last_used < self._idle_s:
                return conn
            conn.close()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if self._https:
            context = self._ssl or client_context()  # AWS_CA_BUNDLE, as botocore
            self._ssl = context
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(loop), self._host, self._port, ssl=context),
            self._connect_timeout,
        )
        return conn


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def event_loop() -> asyncio.AbstractEventLoop:
    """The container's transport event loop, running in a daemon thread (started once)."""
    global _loop  # noqa: PLW0603 - one loop per process, like the client cache
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="wscore-management", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop
