"""The container's service graph: built once at cold start, reused by every invocation.

Tests inject fakes by building `Services` themselves, or reset with `services.cache_clear()`.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.aws.dynamodb import dynamodb_client
from wscore.aws.management import ManagementClient, management_client
from wscore.config import Config, get_config
from wscore.connections import Connections
from wscore.delivery.broadcast import Broadcaster
from wscore.delivery.dispatch import Dispatcher
from wscore.delivery.fanout import FanoutQueue
from wscore.errors import ConfigError
from wscore.history import History
from wscore.limits import RateLimiter
from wscore.logs import get_logger
from wscore.presence import Presence
from wscore.repository import Repository
from wscore.rooms import Rooms

if TYPE_CHECKING:
    from collections.abc import Callable

    from wscore.events import WebSocketEvent

log = get_logger("wscore.services")


@dataclass(frozen=True, slots=True)
class Services:
    config: Config
    repo: Repository
    connections: Connections
    rooms: Rooms
    dispatch: Dispatcher
    presence: Presence
    limiter: RateLimiter

    def endpoint(self, event: WebSocketEvent | None = None) -> str:
        """The @connections endpoint: MANAGEMENT_ENDPOINT, else the event's own."""
        if self.config.management_endpoint:
            return self.config.management_endpoint
        if event is not None and event.domain_name:
            return event.management_endpoint
        raise ConfigError("MANAGEMENT_ENDPOINT is required for functions not invoked by a route")


def build_services(
    config: Config,
    dynamodb: Any,
    sqs: Any | None,
    management_for: Callable[[str], ManagementClient] | None = None,
) -> Services:
    """Wire the services from clients (used by `services()` and by tests)."""
    repo = Repository(dynamodb, config.table_name)
    fanout = FanoutQueue(sqs, config.fanout_queue_url) if sqs and config.fanout_queue_url else None
    dispatch = Dispatcher(config, Broadcaster(management_for or management_client), fanout)
    presence = Presence(config, repo, dispatch, fanout)
    connections = Connections(config, repo, dispatch, presence)
    dispatch.on_gone = connections.cleanup  # gone targets are cleaned up like a disconnect
    rooms = Rooms(config, repo, connections, presence, History(config, repo))
    limiter = RateLimiter(config.rate_limits, repo)
    return Services(config, repo, connections, rooms, dispatch, presence, limiter)


class LazyClient:
    """A boto3 client built on first use.

    Only rooms above the fan-out threshold need SQS, and building a botocore client is a
    large part of a cold start (docs/PERFORMANCE.md), so functions that may send to the
    queue pay for it only when they do.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
        return getattr(self._client, name)


def _enable_tracing() -> None:
    """Patch botocore with the X-Ray SDK, imported only then (its import alone builds
    botocore clients, a cold-start cost only paid when tracing is asked for).

    The SDK is not part of the layer's default requirements; Lambda's active tracing records
    each invocation without it.
    """
    try:
        from aws_xray_sdk.core import patch
    except ImportError:
        raise ConfigError(
            "TRACING_ENABLED=true needs the aws-xray-sdk package in the layer: rebuild "
            "with `make build XRAY_SDK=true`, or set TRACING_ENABLED=false "
            "(module variable xray_sdk_enabled)"
        ) from None
    patch(["botocore"])


@functools.cache
def services() -> Services:
    """The container's services, built on first use (cold start)."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = get_config()
    if config.tracing_enabled:
        _enable_tracing()
    boto = BotoConfig(
        retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5
    )
    dynamodb = dynamodb_client(boto_config=boto, traced=config.tracing_enabled)
    sqs = LazyClient(lambda: boto3.client("sqs", config=boto)) if config.fanout_queue_url else None
    return build_services(config, dynamodb, sqs)
