"""Shared test helpers: a recording management transport, log capture, the protocol's route
keys and a moto table snapshot. API Gateway-shaped events are in tools.ws_events (the bench
drives the handlers with them too)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from tools.manifest import read_manifest
from wscore.protocol import ACTIONS, ROUTE_KEYS

if TYPE_CHECKING:
    from collections.abc import Iterator

# The protocol's route keys: what the manifest, the plan and the local gateway must all hold.
PROTOCOL_ROUTES = ROUTE_KEYS
# The function deployed on each client action's route, from the manifest (as API Gateway).
HANDLER_FOR_ACTION = {
    fn["route"]: name
    for name, fn in read_manifest()["functions"].items()
    if fn.get("route") in ACTIONS
}


class Records(logging.Handler):
    """Keeps every record a logger emits (at any level) for assertions."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_logs(logger: str) -> Iterator[Records]:
    handler = Records()
    target = logging.getLogger(logger)
    target.addHandler(handler)
    try:
        yield handler
    finally:
        target.removeHandler(handler)


class FakeTransport:
    """Records frames per connection; statuses can be scripted per connection id."""

    def __init__(self, max_concurrency: int = 8) -> None:
        self.max_concurrency = max_concurrency
        self.sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.status: dict[str, int | list[int]] = {}
        self.deleted: list[str] = []
        self.calls = 0
        self._lock = threading.Lock()

    def _next_status(self, connection_id: str) -> int:
        scripted = self.status.get(connection_id, 200)
        if isinstance(scripted, list):
            return scripted.pop(0) if len(scripted) > 1 else scripted[0]
        return scripted

    def post(self, connection_id: str, data: bytes) -> int:
        with self._lock:
            self.calls += 1
            status = self._next_status(connection_id)
            if status == 200:
                self.sent[connection_id].append(json.loads(data))
            return status

    def delete(self, connection_id: str) -> int:
        with self._lock:
            self.calls += 1
            status = self._next_status(connection_id)
            if status == 200:
                self.deleted.append(connection_id)
                self.status[connection_id] = 410
                return 204
            return status

    def frames(self, connection_id: str, type_: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.sent[connection_id] if type_ is None or f.get("type") == type_]


def moto_table_items(table_name: str, region: str = "eu-west-1") -> list[dict[str, Any]]:
    """Every item of a moto table, read from moto's in-memory backend.

    Same content as a Scan, without moto's response serialisation (~5 ms per item), so
    property tests can snapshot the table before and after every example.
    """
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table_name)
    return [item.to_json()["Attributes"] for item in table.all_items()]
