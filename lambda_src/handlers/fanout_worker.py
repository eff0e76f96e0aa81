"""Fan-out worker: delivers queued recipient batches, reporting partial batch failures."""

from __future__ import annotations

import time
from typing import Any

from wscore.logs import get_logger
from wscore.services import services

log = get_logger("handlers.fanout_worker")
services()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    svc = services()
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        try:
            svc.dispatch.run_job(record["body"], int(time.time()))
        except Exception:
            log.exception("fan-out job failed", extra={"messageId": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
