"""Shared state and helpers of the test-double handlers (they run inside the gateway).

The doubles exercise the gateway machinery only; the product's handlers are tested against
the gateway in test_protocol.py. Observers (connections of user "observer") receive a copy
of every $disconnect and stream event, so tests await frames instead of polling.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import boto3

LOCK = threading.Lock()
CONNECTIONS: dict[str, dict[str, Any]] = {}
CONNECT_EVENTS: dict[str, dict[str, Any]] = {}  # the $connect event of each connection
GATE = threading.Event()  # "hold" invocations wait for it, a "release" sets it
_CLIENT: list[Any] = []


def management() -> Any:
    with LOCK:
        if not _CLIENT:
            _CLIENT.append(
                boto3.client(
                    "apigatewaymanagementapi", endpoint_url=os.environ["MANAGEMENT_ENDPOINT"]
                )
            )
        return _CLIENT[0]


def post(connection_id: str, payload: Any) -> str:
    """PostToConnection; returns 'ok' or the botocore error code."""
    client = management()
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(payload).encode())
    except client.exceptions.GoneException:
        return "GoneException"
    return "ok"


def notify_observers(payload: Any) -> None:
    with LOCK:
        observers = [c for c, ctx in CONNECTIONS.items() if ctx.get("userId") == "observer"]
    for connection_id in observers:
        post(connection_id, payload)
