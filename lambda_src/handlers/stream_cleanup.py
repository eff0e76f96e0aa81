"""Stream cleanup: after DynamoDB's TTL deletes a connection item, finish the job.

Only TTL deletions count (userIdentity type Service, principal dynamodb.amazonaws.com);
other REMOVEs are ignored even if they reach the handler. For each expired connection:
memberships removed, presence leave announced, the socket closed. Replays change nothing.
"""

from __future__ import annotations

import time
from typing import Any

from wscore.logs import get_logger
from wscore.repository import Connection
from wscore.services import services

log = get_logger("handlers.stream_cleanup")
services()


def is_ttl_removal(record: dict[str, Any]) -> bool:
    identity = record.get("userIdentity") or {}
    return (
        record.get("eventName") == "REMOVE"
        and identity.get("type") == "Service"
        and identity.get("principalId") == "dynamodb.amazonaws.com"
    )


def expired_connection(record: dict[str, Any]) -> Connection | None:
    image = (record.get("dynamodb") or {}).get("OldImage") or {}
    if image.get("type", {}).get("S") != "connection" or "connectionId" not in image:
        return None
    return Connection.from_item(image)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    svc = services()
    for record in event.get("Records", []):
        conn = expired_connection(record) if is_ttl_removal(record) else None
        if conn is None:
            continue
        try:
            endpoint = svc.config.management_endpoint or conn.endpoint
            svc.connections.close(conn.connection_id, endpoint, int(time.time()))
        except Exception:
            log.exception("cleanup failed", extra={"connectionId": conn.connection_id})
            sequence = (record.get("dynamodb") or {}).get("SequenceNumber", "")
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}
