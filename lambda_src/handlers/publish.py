"""Server-side publish, invoked directly (Lambda invoke) or through the publish queue.

Direct invocation returns {"ok": true, ...counts} or {"ok": false, "error": {code, message}}.
From SQS, an invalid or failing record is reported as a batch item failure (and ends in
the DLQ after the queue's maxReceiveCount), so nothing accepted is silently dropped.
"""

from __future__ import annotations

import json
import time
from typing import Any

from wscore.delivery.publish import publish
from wscore.errors import DomainError
from wscore.logs import get_logger
from wscore.services import services

log = get_logger("handlers.publish")
services()


def _is_sqs(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records
    )


def handler(event: Any, context: Any) -> dict[str, Any]:
    svc = services()
    now = int(time.time())
    if not _is_sqs(event):
        try:
            return publish(svc, event, now)
        except DomainError as exc:
            log.warning("publish rejected", extra={"code": str(exc.code), "reason": exc.message})
            return {"ok": False, "error": {"code": str(exc.code), "message": exc.message}}
    failures: list[dict[str, str]] = []
    for record in event["Records"]:
        try:
            publish(svc, json.loads(record["body"]), now)
        except Exception as exc:
            log.error(
                "publish record failed",
                extra={
                    "messageId": record.get("messageId"),
                    "error": type(exc).__name__,
                    "reason": getattr(exc, "message", ""),
                },
            )
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
