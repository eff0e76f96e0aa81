"""The aiohttp application: WebSocket API, @connections management API and dev endpoints.

One port serves everything, like API Gateway's stage URL:
- `GET /{stage}` (WebSocket upgrade): authorizer, $connect, route selection, $disconnect.
- `POST|GET|DELETE /{stage}/@connections/{id}`: the management API boto3 calls.
- `GET /_dev/health`, `GET /_dev/token`, `POST /{stage}/_dev/publish`: local only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import WSCloseCode, WSMsgType, web

from local_gateway.config import MAX_FRAME_BYTES
from local_gateway.events import EventFactory, identity, iso_time, new_id, now_ms
from local_gateway.faults import Faults
from local_gateway.http_limits import url_limit
from local_gateway.lambdas import HandlerError
from tools.devtoken import invalid_ids, mint
from tools.manifest import ROOT
from wscore.errors import ConfigError
from wscore.protocol import MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from local_gateway.config import GatewayConfig
    from local_gateway.lambdas import LambdaRuntime
    from local_gateway.manifest import Function, Manifest

log = logging.getLogger("local_gateway")

CLOSE_TIMEOUT_S = 2.0
# PostToConnection answers without waiting for a slow client to read (API Gateway buffers
# too); only beyond this much unread data per connection does a POST wait for it.
WRITE_BUFFER_BYTES = 4 * 1024 * 1024
SHUTDOWN_WAIT_S = 3.0
NO_STATUS_RECEIVED = 1005  # a close frame without a code (RFC 6455 7.4.1)
UNAUTHORIZED = "Unauthorized"  # what a REQUEST authorizer raises to answer 401
UNSUPPORTED_REASON = "Binary frames are not supported"  # the gateway's wording, see the docs
_STOP = object()  # queue sentinel: no more messages, fire $disconnect


class Rejected(Exception):
    """The handshake is refused with this HTTP status (API Gateway's JSON message body)."""

    MESSAGES: ClassVar[dict[int, str]] = {
        401: "Unauthorized",
        403: "Forbidden",
        500: "Internal server error",
        503: "Service Unavailable",
    }

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason  # for the gateway's log line only, never sent to the client

    def response(self) -> web.Response:
        message = self.MESSAGES.get(self.status, "Connection rejected")
        return web.json_response({"message": message}, status=self.status)


@dataclass
class Connection:
    """A live WebSocket connection and what API Gateway remembers about it."""

    connection_id: str
    ws: web.WebSocketResponse
    connected_at: int
    source_ip: str
    user_agent: str | None  # None: the client sent no User-Agent header
    authorizer: dict[str, Any] | None
    integration_latency: int | None = None  # the authorizer's run time, for $connect only
    last_active: int = 0
    last_active_mono: float = field(default_factory=time.monotonic)
    connected_mono: float = field(default_factory=time.monotonic)
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    close_info: tuple[int, str] | None = None
    warned_frame: bool = False

    def touch(self) -> None:
        self.last_active = now_ms()
        self.last_active_mono = time.monotonic()


def stringify_context(context: dict[str, Any]) -> dict[str, str]:
    """Authorizer context as API Gateway passes it on: scalars only, as strings."""
    out: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        elif value is None:
            continue
        else:
            raise ValueError(f"authorizer context value {key!r} is not a scalar")
    return out


def policy_allows(result: Any) -> bool:
    """True when the policy has an Allow for execute-api:Invoke and no Deny."""
    statements = ((result or {}).get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    effects = set()
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if any(a in ("execute-api:Invoke", "execute-api:*", "*") for a in actions):
            effects.add(str(statement.get("Effect", "")).lower())
    return "allow" in effects and "deny" not in effects


def select_route(data: str, routes: dict[str, Function]) -> str:
    """`$request.body.action`; `$default` for non-JSON (nesting too deep for the parser
    included), non-objects and unknown actions."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return "$default"
    action = body.get("action") if isinstance(body, dict) else None
    if isinstance(action, str) and not action.startswith("$") and action in routes:
        return action
    return "$default"


def fairness_key(context: dict[str, Any]) -> str:
    """Whose turn an invocation takes in the routes' pool (lambdas.FairExecutor): the
    tenant from the authorizer context, else its principal, else the connection."""
    authorizer = context.get("authorizer") or {}
    tenant = authorizer.get("tenantId") or authorizer.get("principalId")
    return tenant_key(tenant) if tenant else f"connection:{context['connectionId']}"


def tenant_key(tenant: object) -> str:
    return f"tenant:{tenant}"


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    """An error in the shape botocore parses into `client.exceptions.<error_type>`."""
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": error_type}
    )


class Gateway:
    """Connection registry plus the request handlers of the aiohttp app."""

    def __init__(
        self,
        config: GatewayConfig,
        manifest: Manifest,
        runtime: LambdaRuntime,
        events: EventFactory,
    ) -> None:
        self.config, self.manifest, self.runtime, self.events = config, manifest, runtime, events
        self.routes = manifest.routes
        self.connections: dict[str, Connection] = {}
        self.ready = asyncio.Event()
        self.stopping = False
        self.failure: str | None = None  # why the gateway can no longer serve
        self.extra_health: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._disconnects: set[asyncio.Task[None]] = set()
        self.faults = Faults.from_env(os.environ)

    # -- application ---------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES + 1024, middlewares=[url_limit])
        stage = self.config.stage
        app.router.add_get("/_dev/health", self.health)
        app.router.add_get("/_dev/token", self.dev_token)
        app.router.add_post(f"/{stage}/_dev/publish", self.dev_publish)
        app.router.add_post(f"/{stage}/_dev/faults", self.dev_faults)
        app.router.add_post(f"/{stage}/@connections/{{connection_id}}", self.post_to_connection)
        app.router.add_get(f"/{stage}/@connections/{{connection_id}}", self.get_connection)
        app.router.add_delete(f"/{stage}/@connections/{{connection_id}}", self.delete_connection)
        app.router.add_get(f"/{stage}", self.websocket)
        static = self.config.static_dir
        if static.is_dir():
            app.router.add_get("/", self.index)
            app.router.add_static("/demo/", static)
        js = ROOT / "clients" / "js"
        if js.is_dir():
            app.router.add_static("/js/", js)
        return app

    # -- WebSocket API ---------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        await self.ready.wait()
        ws = web.WebSocketResponse(
            max_msg_size=MAX_MESSAGE_BYTES,
            timeout=CLOSE_TIMEOUT_S,
            autoping=True,
            writer_limit=WRITE_BUFFER_BYTES,
        )
        if not ws.can_prepare(request).ok:
            return web.json_response({"message": "Upgrade Required"}, status=426)
        source_ip = request.remote or "127.0.0.1"
        user_agent = request.headers.get("User-Agent")
        conn = Connection(new_id(), ws, now_ms(), source_ip, user_agent, authorizer=None)
        connection_id = conn.connection_id
        try:
            authorized = await self._authorize(request, self._context(conn, "$connect", "CONNECT"))
            if authorized is not None:
                conn.authorizer, conn.integration_latency = authorized
            if self._cut_off(conn.authorizer):
                raise Rejected(503, "fault injection: this user is cut off")
            await self._connect(request, self._context(conn, "$connect", "CONNECT"))
        except Rejected as rejected:
            log.info("handshake rejected: HTTP %d (%s) from %s", *rejected.args, source_ip)
            return rejected.response()
        try:
            await ws.prepare(request)
        except (ConnectionError, RuntimeError):  # the client left during $connect
            await self._disconnect(conn, int(WSCloseCode.ABNORMAL_CLOSURE), "Handshake failed")
            return ws
        conn.touch()
        self.connections[connection_id] = conn
        log.info("connected %s (%s)", connection_id, _who(conn.authorizer))
        worker = asyncio.create_task(self._dispatch_loop(conn))
        watchdog = asyncio.create_task(self._watchdog(conn))
        self._disconnects.add(worker)
        worker.add_done_callback(self._disconnects.discard)
        try:
            code, reason = await self._read_loop(conn)
        except (ConnectionError, RuntimeError) as exc:
            log.warning("reading from %s failed: %s", connection_id, exc)
            code, reason = int(WSCloseCode.ABNORMAL_CLOSURE), "Connection closed abnormally"
        finally:
            watchdog.cancel()
            self.connections.pop(connection_id, None)
        conn.queue.put_nowait((code, reason))
        conn.queue.put_nowait(_STOP)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(worker)
        return ws

    def _context(
        self, conn: Connection, route_key: str, event_type: str, message_id: str | None = None
    ) -> dict[str, Any]:
        """requestContext of an event of this connection: its identity and authorizer
        context (none yet while the authorizer itself runs)."""
        return self.events.request_context(
            route_key=route_key,
            event_type=event_type,
            connection_id=conn.connection_id,
            connected_at=conn.connected_at,
            source_ip=conn.source_ip,
            user_agent=conn.user_agent,
            authorizer=conn.authorizer,
            message_id=message_id,
            integration_latency=conn.integration_latency if event_type == "CONNECT" else None,
        )

    async def _authorize(
        self, request: web.Request, context: dict[str, Any]
    ) -> tuple[dict[str, Any], int] | None:
        """The REQUEST authorizer with identity source `route.request.querystring.token`:
        the context every route sees, and the authorizer's latency in ms."""
        fn = self.manifest.authorizer
        if fn is None:
            return None
        if not request.query.get("token"):
            # identity source missing: API Gateway never calls the authorizer
            raise Rejected(401, "no token")
        event = self.events.authorizer_event(context, request.headers, request.query)
        started = time.monotonic()
        try:
            # Exception("Unauthorized") is the authorizer's documented way to answer 401: an
            # ordinary outcome, logged as one line below, not as a function failure.
            result = await self.runtime.invoke(
                fn, event, context["connectionId"], expected_error=UNAUTHORIZED
            )
        except HandlerError as exc:
            if str(exc.cause) == UNAUTHORIZED:
                raise Rejected(401, "the authorizer answered Unauthorized") from exc
            raise Rejected(500, "the authorizer failed") from exc
        if not isinstance(result, dict) or "principalId" not in result:
            log.error("authorizer returned a malformed response (API Gateway answers 500)")
            raise Rejected(500, "malformed authorizer response")
        if not policy_allows(result):
            raise Rejected(403, "the authorizer's policy denies it")
        try:
            ctx = stringify_context(result.get("context") or {})
        except ValueError as exc:
            log.error("authorizer context rejected: %s (API Gateway answers 500)", exc)
            raise Rejected(500, "malformed authorizer context") from exc
        if len(json.dumps(result)) > 8192:
            log.error("authorizer response over 8 KB (API Gateway answers 500)")
            raise Rejected(500, "authorizer response over 8 KB")
        ctx["principalId"] = str(result["principalId"])
        return ctx, int((time.monotonic() - started) * 1000)

    async def _connect(self, request: web.Request, context: dict[str, Any]) -> None:
        fn = self.routes.get("$connect")
        if fn is None:
            return
        event = self.events.connect_event(context, request.headers, request.query)
        try:
            result = await self.runtime.invoke(fn, event, fairness_key(context))
        except HandlerError as exc:
            raise Rejected(500, "$connect failed") from exc
        status = result.get("statusCode", 200) if isinstance(result, dict) else 200
        try:
            status = int(status)
        except (TypeError, ValueError):
            raise Rejected(500, "$connect returned a non-numeric statusCode") from None
        if not 200 <= status < 300:
            raise Rejected(status, f"$connect answered {status}")

    async def _read_loop(self, conn: Connection) -> tuple[int, str]:
        """Read frames until the connection ends; return ($disconnect's code, reason)."""
        ws = conn.ws
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT:
                conn.touch()
                self._warn_frame_size(conn, msg.data)
                conn.queue.put_nowait(msg.data)
                continue
            if msg.type is WSMsgType.BINARY:  # API Gateway takes text frames only
                log.info("closing %s with 1003: it sent a binary frame", conn.connection_id)
                await self.close(conn, int(WSCloseCode.UNSUPPORTED_DATA), UNSUPPORTED_REASON)
                continue
            if conn.close_info is not None:
                return conn.close_info
            if msg.type is WSMsgType.CLOSE:
                code = int(msg.data) if msg.data else NO_STATUS_RECEIVED
                return code, str(msg.extra or "")
            too_big = getattr(msg.data, "code", None) == WSCloseCode.MESSAGE_TOO_BIG
            if msg.type is WSMsgType.ERROR and too_big:
                return int(WSCloseCode.MESSAGE_TOO_BIG), "Message too big"
            return int(WSCloseCode.ABNORMAL_CLOSURE), "Connection closed abnormally"

    def _warn_frame_size(self, conn: Connection, data: str) -> None:
        size = len(data.encode())
        if size > MAX_FRAME_BYTES and not conn.warned_frame:
            conn.warned_frame = True
            log.warning(
                "%s sent a %d-byte message: AWS closes single frames over 32 KB with 1009 "
                "(split larger messages into fragments); the local gateway only enforces 128 KB",
                conn.connection_id,
                size,
            )

    async def _dispatch_loop(self, conn: Connection) -> None:
        """Invoke routes for this connection's messages in order, then $disconnect once.

        While the gateway stops, queued messages are dropped and $disconnect is skipped:
        the emulated table is going away with the process.
        """
        close: tuple[int, str] = (int(WSCloseCode.ABNORMAL_CLOSURE), "")
        while True:
            item = await conn.queue.get()
            if item is _STOP:
                break
            if isinstance(item, tuple):
                close = item
                continue
            assert isinstance(item, str)
            if self.stopping:
                continue
            try:
                await self._dispatch(conn, item)
            except Exception:
                log.exception("dispatch failed for %s", conn.connection_id)
        if not self.stopping:
            await self._disconnect(conn, *close)

    async def _dispatch(self, conn: Connection, data: str) -> None:
        route_key = select_route(data, self.routes)
        fn = self.routes.get(route_key)
        context = self._context(conn, route_key, "MESSAGE", new_id())
        if fn is None:  # no $default route: API Gateway answers with an error frame
            await self._send(conn, json.dumps({"message": "Forbidden", **_ids(context)}))
            return
        try:
            event = self.events.message_event(context, data)
            result = await self.runtime.invoke(fn, event, fairness_key(context))
        except HandlerError:
            if fn.two_way:
                await self._send(
                    conn, json.dumps({"message": "Internal server error", **_ids(context)})
                )
            return
        if fn.two_way and isinstance(result, dict) and result.get("body") is not None:
            body = result["body"]
            await self._send(conn, body if isinstance(body, str) else json.dumps(body))

    async def _disconnect(self, conn: Connection, code: int, reason: str) -> None:
        log.info("disconnected %s (%s)", conn.connection_id, f"{code} {reason}".strip())
        fn = self.routes.get("$disconnect")
        if fn is None:
            return
        context = self._context(conn, "$disconnect", "DISCONNECT")
        event = self.events.disconnect_event(context, code, reason)
        with contextlib.suppress(HandlerError):
            await self.runtime.invoke(fn, event, fairness_key(context))

    async def _send(self, conn: Connection, data: str | bytes) -> bool:
        if conn.ws.closed:
            return False
        try:
            if isinstance(data, str):
                await conn.ws.send_str(data)
            else:
                await conn.ws.send_bytes(data)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def _watchdog(self, conn: Connection) -> None:
        """Close idle (no client message) and too-old connections with 1001, like AWS."""
        while True:
            now = time.monotonic()
            idle_at = conn.last_active_mono + self.config.idle_timeout_s
            max_at = conn.connected_mono + self.config.max_duration_s
            if now >= min(idle_at, max_at):
                await self.close(conn, int(WSCloseCode.GOING_AWAY), "Going away")
                return
            await asyncio.sleep(min(idle_at, max_at) - now)

    async def close(self, conn: Connection, code: int, reason: str) -> None:
        """Server-side close; the read loop then ends and $disconnect fires once."""
        if conn.close_info is not None:
            return
        conn.close_info = (code, reason)
        self.connections.pop(conn.connection_id, None)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=reason.encode())

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """Close every connection with 1001 (bounded); no more handler invocations."""
        self.stopping = True
        for conn in list(self.connections.values()):
            self._spawn(self.close(conn, int(WSCloseCode.GOING_AWAY), "Going away"))
        pending = self._disconnects | self._tasks
        if pending:
            await asyncio.wait(pending, timeout=SHUTDOWN_WAIT_S)

    # -- management API ----------------------------------------------------------------------

    async def post_to_connection(self, request: web.Request) -> web.Response:
        conn = self.connections.get(request.match_info["connection_id"])
        if conn is None:
            return aws_error(410, "GoneException", "The connection is gone")
        if self.faults.throttle_post():
            return aws_error(429, "LimitExceededException", "Rate exceeded (fault injection)")
        data = await request.read()
        if len(data) > MAX_MESSAGE_BYTES:
            return aws_error(413, "PayloadTooLargeException", "Message too long")
        try:
            payload: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        if not await self._send(conn, payload):
            return aws_error(410, "GoneException", "The connection is gone")
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        conn = self.connections.get(request.match_info["connection_id"])
        if conn is None:
            return aws_error(410, "GoneException", "The connection is gone")
        return web.json_response(
            {
                "connectedAt": iso_time(conn.connected_at),
                "identity": identity(conn.source_ip, conn.user_agent),
                "lastActiveAt": iso_time(conn.last_active),
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        conn = self.connections.get(request.match_info["connection_id"])
        if conn is None:
            return aws_error(410, "GoneException", "The connection is gone")
        self.connections.pop(conn.connection_id, None)
        self._spawn(self.close(conn, int(WSCloseCode.OK), "Connection closed by the server"))
        return web.Response(status=204)

    # -- dev-only endpoints ------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        status = 200 if self.ready.is_set() and self.failure is None else 503
        state = "ok" if status == 200 else "failed" if self.failure else "starting"
        body = {
            "status": state,
            **({"error": self.failure} if self.failure else {}),
            "stage": self.config.stage,
            "connections": len(self.connections),
            **self.extra_health,
        }
        return web.json_response(body, status=status, headers=_CORS)

    async def dev_token(self, request: web.Request) -> web.Response:
        """Mint a dev token (HS256, the public dev secret): local gateway only."""
        user, tenant = (
            request.query.get("user", "").strip(),
            request.query.get("tenant", "").strip(),
        )
        if not user or not tenant:
            return web.json_response(
                {"message": "user and tenant are required"}, status=400, headers=_CORS
            )
        refused = invalid_ids(user, tenant)  # a token the authorizer would refuse: say so now
        if refused:
            return web.json_response({"message": refused}, status=400, headers=_CORS)
        rooms = [r.strip() for r in request.query.get("rooms", "").split(",") if r.strip()]
        roles = [r.strip() for r in request.query.get("roles", "").split(",") if r.strip()]
        token = mint(user, tenant, rooms=rooms, roles=roles)
        url = self.extra_health.get("url", "")
        return web.json_response({"token": token, "url": f"{url}?token={token}"}, headers=_CORS)

    async def dev_publish(self, request: web.Request) -> web.Response:
        """Invoke the publish function directly, like `aws lambda invoke`."""
        await self.ready.wait()
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.json_response({"message": "the body must be JSON"}, status=400)
        queue = self.manifest.queues.get("publish")
        fn = self.manifest.functions.get(queue.consumer if queue else "publish")
        if fn is None:
            return web.json_response({"message": "no publish function"}, status=404)
        try:
            tenant = payload.get("tenantId") if isinstance(payload, dict) else None
            result = await self.runtime.invoke(fn, payload, tenant_key(tenant or "-"))
        except HandlerError as exc:
            body = {"errorType": type(exc.cause).__name__, "errorMessage": str(exc.cause)}
            return web.json_response(
                body, status=502, headers={"X-Amz-Function-Error": "Unhandled"}
            )
        return web.json_response(result)

    async def dev_faults(self, request: web.Request) -> web.Response:
        """Inject faults (local_gateway.faults): @connections 429s, or cut a user off."""
        try:
            cut = self.faults.configure(json.loads(await request.read()))
        except (ValueError, ConfigError) as exc:  # ConfigError says what is wrong
            return web.json_response({"message": str(exc)}, status=400)
        closed = 0
        if cut is not None:
            for conn in list(self.connections.values()):
                if self._cut_off(conn.authorizer):
                    await self.close(conn, 1001, "fault injection: network cut")
                    closed += 1
        log.warning(
            "fault injection: post429=%s, cut=%s (%d closed)", self.faults.post429, cut, closed
        )
        return web.json_response({"post429": self.faults.post429, "closed": closed})

    def _cut_off(self, authorizer: dict[str, Any] | None) -> bool:
        if not authorizer:
            return False
        return self.faults.is_cut(str(authorizer.get("tenantId")), str(authorizer.get("userId")))

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.config.static_dir / "index.html")


_CORS = {"Access-Control-Allow-Origin": "*"}


def _ids(context: dict[str, Any]) -> dict[str, str]:
    return {"connectionId": context["connectionId"], "requestId": context["requestId"]}


def _who(authorizer: dict[str, Any] | None) -> str:
    if not authorizer:
        return "no authorizer"
    return f"user={authorizer.get('userId', '?')} tenant={authorizer.get('tenantId', '?')}"
