"""JSON structured logging, one line per record, safe for CloudWatch Logs Insights.

We do not use Powertools: its import would be paid at every cold start, a budget kept
tight (docs/PERFORMANCE.md); the format is close to Lambda's own JSON log format so both
can be queried the same way.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and (key == "_aws" or not key.startswith("_")):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current sys.stdout (Lambda forwards it to CloudWatch Logs)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def get_logger(name: str = "wscore") -> logging.Logger:
    """Return a logger under the package root, configuring the root handler once."""
    root = logging.getLogger("wscore")
    if not getattr(root, "_wscore_configured", False):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        root.handlers[:] = [handler]
        root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
        root.propagate = False
        root._wscore_configured = True  # type: ignore[attr-defined]
    return root if name == "wscore" else root.getChild(name.removeprefix("wscore."))


METRIC_NAMESPACE = os.environ.get("METRIC_NAMESPACE", "ServerlessWebSocket")


def metric(logger: logging.Logger, name: str, **values: int | float | str) -> None:
    """Log counters in CloudWatch Embedded Metric Format: one line, no extra client.

    Numeric values become metrics (unit Count); string values become dimensions.
    """
    counts = {k: v for k, v in values.items() if not isinstance(v, str)}
    dimensions = [k for k, v in values.items() if isinstance(v, str)]
    emf = {
        "Timestamp": int(time.time() * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": [{"Name": k, "Unit": "Count"} for k in counts],
            }
        ],
    }
    logger.info(name, extra={"_aws": emf, "metric": name, **values})
