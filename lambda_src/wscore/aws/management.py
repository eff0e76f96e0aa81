"""The API Gateway management API (@connections): posting to and closing connections.

Error semantics, identical whatever the transport:
- 200: delivered.      - 410 Gone: the target is gone; the caller prunes *that* connection.
- 429: retried as throttling, then `throttled`.  - 413: too large, never retried.
- 403: a configuration error (wrong endpoint or missing IAM permission): logged as an
  error, nothing deleted.
- 5xx and network errors: retried as transient, then `failed`; any other status: `failed`.
Retries follow `retry.RetryPolicy` (botocore's standard mode: attempts, full-jitter backoff,
a retry quota per client). Clients are created once per endpoint per container.

Transports: `MANAGEMENT_TRANSPORT=fast` (default) selects `fast_transport.FastTransport`
(precomputed SigV4 over a persistent connection pool: far less CPU per message than boto3's
client, which matters for large broadcasts; docs/PERFORMANCE.md has the measurements);
`MANAGEMENT_TRANSPORT=boto3` selects `Boto3Transport`. `MANAGEMENT_CONCURRENCY` bounds the
requests in flight per container (default 64 fast, 32 boto3). A transport with `post_batch`
gets a whole broadcast at once; the retry rules are applied per connection either way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from wscore.aws.retry import Failure, RetryPolicy
from wscore.config import env_int
from wscore.errors import ConfigError
from wscore.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

log = get_logger("wscore.aws.management")

# The status a transport reports when no HTTP status arrived (network error or timeout).
NETWORK_ERROR = 0


class Outcome(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    THROTTLED = "throttled"
    TOO_LARGE = "too_large"
    FORBIDDEN = "forbidden"
    FAILED = "failed"


class Transport(Protocol):
    """Sends one @connections request and returns the HTTP status (0 on network error)."""

    max_concurrency: int

    def post(self, connection_id: str, data: bytes) -> int: ...

    def delete(self, connection_id: str) -> int: ...


class BatchPost(Protocol):
    """A transport's optional bulk send: one status per id, in order.

    `delays[i]` (seconds, may be None) postpones the request for id i: the per-connection
    jittered back-off of a retry round.
    """

    def __call__(
        self, connection_ids: Sequence[str], data: bytes, delays: Sequence[float] | None = None
    ) -> list[int]: ...


def _failure(status: int) -> Failure | None:
    """How the retry policy sees a status (None: success); see the module docstring."""
    if 200 <= status < 300:
        return None
    if status == 429:
        return Failure.THROTTLING
    if status == NETWORK_ERROR or status >= 500:
        return Failure.TRANSIENT
    return Failure.FINAL


class ManagementClient:
    """Posts frames to connections with the error semantics above."""

    def __init__(
        self, transport: Transport, endpoint: str, retry: RetryPolicy | None = None
    ) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self._retry = retry or RetryPolicy()  # its own quota: one per client

    def _send(self, op: Callable[[], int], connection_id: str) -> Outcome:
        return self._outcome(self._retry.run(op, _failure), connection_id)

    def _outcome(self, status: int, connection_id: str) -> Outcome:
        if 200 <= status < 300:
            return Outcome.DELIVERED
        if status == 410:
            return Outcome.GONE
        if status == 429:
            return Outcome.THROTTLED
        if status == 413:
            return Outcome.TOO_LARGE
        if status == 403:
            log.error(
                "management API refused the call: check MANAGEMENT_ENDPOINT and the "
                "execute-api:ManageConnections permission",
                extra={"endpoint": self.endpoint, "connectionId": connection_id, "status": 403},
            )
            return Outcome.FORBIDDEN
        log.warning(
            "management API call failed", extra={"status": status, "endpoint": self.endpoint}
        )
        return Outcome.FAILED

    def post(self, connection_id: str, data: bytes) -> Outcome:
        """Send one frame to one connection."""
        return self._send(lambda: self.transport.post(connection_id, data), connection_id)

    def delete(self, connection_id: str) -> Outcome:
        """Close a connection (DELIVERED when closed now, GONE when already closed)."""
        return self._send(lambda: self.transport.delete(connection_id), connection_id)

    def post_many(self, connection_ids: Iterable[str], data: bytes) -> dict[str, Outcome]:
        """Send the same frame to many connections concurrently (bounded pool)."""
        ids = list(connection_ids)
        if len(ids) <= 1:
            return {cid: self.post(cid, data) for cid in ids}
        batch: BatchPost | None = getattr(self.transport, "post_batch", None)
        if batch is not None:
            return self._post_batched(batch, ids, data)
        workers = min(self.transport.max_concurrency, len(ids))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = pool.map(lambda cid: self.post(cid, data), ids)
            return dict(zip(ids, outcomes, strict=True))

    def _post_batched(self, batch: BatchPost, ids: list[str], data: bytes) -> dict[str, Outcome]:
        """post_many over a bulk transport, with the same per-connection retry rules.

        Each id is one call of the retry policy. Each round sends the ids still to retry;
        each waits its own full-jitter delay (drawn as `_send` draws it), inside the
        transport, so no thread blocks in a sleep.
        """
        outcomes: dict[str, Outcome] = {}
        calls = {cid: self._retry.start() for cid in ids}
        pending: list[str] = ids
        delays: list[float] | None = None
        while pending:
            statuses = batch(pending, data, delays)
            retry: list[str] = []
            delays = []
            for cid, status in zip(pending, statuses, strict=True):
                delay = calls[cid].next_delay(_failure(status))
                if delay is None:
                    outcomes[cid] = self._outcome(status, cid)
                else:
                    retry.append(cid)
                    delays.append(delay)
            pending = retry
        return {cid: outcomes[cid] for cid in ids}


class Boto3Transport:
    """Transport over boto3's apigatewaymanagementapi client (one per endpoint)."""

    def __init__(self, endpoint: str, max_concurrency: int = 32, client: Any = None) -> None:
        self.max_concurrency = max_concurrency
        self._client: ApiGatewayManagementApiClient = client or _new_client(
            endpoint, max_concurrency
        )

    @staticmethod
    def _status(exc: Exception) -> int:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            meta = exc.response.get("ResponseMetadata", {})
            status = int(meta.get("HTTPStatusCode") or 0)
            if status:
                return status
            code = exc.response.get("Error", {}).get("Code", "")
            return {
                "GoneException": 410,
                "LimitExceededException": 429,
                "PayloadTooLargeException": 413,
                "ForbiddenException": 403,
            }.get(code, 500)
        return NETWORK_ERROR

    def post(self, connection_id: str, data: bytes) -> int:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except Exception as exc:
            return self._status(exc)
        return 200

    def delete(self, connection_id: str) -> int:
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except Exception as exc:
            return self._status(exc)
        return 204


def _new_client(endpoint: str, pool: int) -> ApiGatewayManagementApiClient:
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(
        retries={"mode": "standard", "total_max_attempts": 1},  # we retry ourselves
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=pool,
    )
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=config)


_clients: dict[str, ManagementClient] = {}
_clients_lock = threading.Lock()
TransportFactory = Callable[[str], Transport]
TRANSPORTS = ("fast", "boto3")


def default_transport(endpoint: str) -> Transport:
    """The transport named by MANAGEMENT_TRANSPORT (`fast` unless set to `boto3`)."""
    choice = os.environ.get("MANAGEMENT_TRANSPORT", "fast").strip().lower() or "fast"
    if choice not in TRANSPORTS:
        raise ConfigError(f"MANAGEMENT_TRANSPORT must be fast or boto3, got {choice!r}")
    if choice == "boto3":
        return Boto3Transport(endpoint, env_int(os.environ, "MANAGEMENT_CONCURRENCY", 32, 1, 256))
    from wscore.aws.fast_transport import FastTransport

    return FastTransport(endpoint, env_int(os.environ, "MANAGEMENT_CONCURRENCY", 64, 1, 256))


def management_client(
    endpoint: str, factory: TransportFactory = default_transport
) -> ManagementClient:
    """The container's client for an endpoint (created once, reused across invocations)."""
    with _clients_lock:
        client = _clients.get(endpoint)
        if client is None:
            client = ManagementClient(factory(endpoint), endpoint)
            _clients[endpoint] = client
        return client


def reset_clients() -> None:
    """Forget cached clients (tests)."""
    with _clients_lock:
        _clients.clear()
