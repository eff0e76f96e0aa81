"""Python client for the serverless WebSocket platform, protocol v1 (asyncio + websockets)."""

from __future__ import annotations

from wsclient.client import (
    DEFAULT_HEARTBEAT_INTERVAL_S,
    MAX_HEARTBEAT_INTERVAL_S,
    PROTOCOL_ERROR_CODES,
    ClientError,
    WsClient,
    backoff_delay,
    is_terminal_close_code,
    with_token,
)

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "MAX_HEARTBEAT_INTERVAL_S",
    "PROTOCOL_ERROR_CODES",
    "ClientError",
    "WsClient",
    "backoff_delay",
    "is_terminal_close_code",
    "with_token",
]
