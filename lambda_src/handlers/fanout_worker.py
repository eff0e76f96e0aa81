"""Fan-out worker: delivers queued recipient batches and runs the delayed presence flushes
of large rooms, reporting partial batch failures."""

from __future__ import annotations

import time
from typing import Any

from wscore.logs import get_logger
from wscore.presence import FlushJob
from wscore.services import services

log = get_logger("handlers.fanout_worker")
services()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    svc = services()
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        body, now = record["body"], int(time.time())
        try:
            if FlushJob.matches(body):
                svc.presence.flush(body, now)
            else:
                svc.dispatch.run_job(body, now)
        except Exception:
            log.exception("fan-out job failed", extra={"messageId": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
