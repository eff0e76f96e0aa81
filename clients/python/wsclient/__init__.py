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
from wsclient.presence import PresenceChanges, PresenceList, presence_changes

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "MAX_HEARTBEAT_INTERVAL_S",
    "PROTOCOL_ERROR_CODES",
    "ClientError",
    "PresenceChanges",
    "PresenceList",
    "WsClient",
    "backoff_delay",
    "is_terminal_close_code",
    "presence_changes",
    "with_token",
]
