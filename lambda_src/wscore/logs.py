"""JSON structured logging and CloudWatch embedded metrics: one line per record.

One logging path: this formatter. The Terraform module sets Lambda's log format to Text, so
Lambda neither re-wraps these lines nor filters them by a `level` field; the level is
applied here, from LOG_LEVEL. Records use Lambda's level names (TRACE, DEBUG, INFO, WARN,
ERROR, FATAL), so they read and query like Lambda's own JSON logs, and carry the Lambda
request id, a cold-start flag and the function name.

Metric lines (`metric()`) are CloudWatch Embedded Metric Format documents written to stdout
whatever the log level: an alarm must not go blind because someone set LOG_LEVEL=ERROR.
Their namespace and the Project/Env dimensions come from METRIC_NAMESPACE, METRIC_PROJECT
and METRIC_ENV (set by the module), so deployments sharing an account and region keep
separate metrics.

We do not use Powertools: its import would be paid at every cold start, a budget kept
tight (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import random
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from wscore.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

# Lambda's vocabulary (what its JSON log format and log-level filter know).
_LAMBDA_LEVEL_NAMES = (
    (logging.CRITICAL, "FATAL"),
    (logging.ERROR, "ERROR"),
    (logging.WARNING, "WARN"),
    (logging.INFO, "INFO"),
    (logging.DEBUG, "DEBUG"),
)
# What LOG_LEVEL accepts: Lambda's names, and Python's for the two that differ.
LEVELS: dict[str, int] = {
    "TRACE": TRACE,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
}

DEFAULT_NAMESPACE = "ServerlessWebSocket"
# EMF dimension values must be non-empty; outside the module (tests, the local gateway)
# the deployment is "local".
_LOCAL = "local"

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "aws_request_id",  # the runtime's name for the request id, rendered as requestId
    "tenant_id",
}


def level_name(levelno: int) -> str:
    """Lambda's name for a Python level number (30 -> WARN, 50 -> FATAL, 5 -> TRACE)."""
    for threshold, name in _LAMBDA_LEVEL_NAMES:
        if levelno >= threshold:
            return name
    return "TRACE"


def parse_level(raw: str | None) -> int:
    """LOG_LEVEL as a Python level number; blank is INFO, anything unknown is an error."""
    value = (raw or "").strip().upper() or "INFO"
    if value not in LEVELS:
        raise ConfigError(
            f"LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, got {raw!r}"
        )
    return LEVELS[value]


class _Invocation:
    """The Lambda request id of the current record and whether it is the cold start.

    The Python runtime stamps `aws_request_id` on every record through a filter on the
    handler it installs on the root logger (that is how its own text format prints the
    id). Our records do not go through that handler, so the filter is borrowed: applied to
    the record, it sets the attribute. Outside Lambda there is none, and no request id.
    The first request id a process sees is its cold start; records before it (init) are too.
    """

    def __init__(self) -> None:
        self._first: str | None = None
        self._lock = threading.Lock()

    def request_id(self, record: logging.LogRecord) -> str | None:
        if not getattr(record, "aws_request_id", None):
            for handler in logging.getLogger().handlers:
                for runtime_filter in handler.filters:
                    if isinstance(runtime_filter, logging.Filter):
                        runtime_filter.filter(record)
        value = getattr(record, "aws_request_id", None)
        return value if isinstance(value, str) and value else None

    def cold_start(self, request_id: str | None) -> bool:
        if request_id is None:
            return self._first is None
        with self._lock:
            if self._first is None:
                self._first = request_id
        return request_id == self._first

    def reset(self) -> None:
        """Forget the first request id (tests simulate several containers)."""
        with self._lock:
            self._first = None


INVOCATION = _Invocation()


def after_snapshot_restore() -> None:
    """SnapStart: every environment resumed from one snapshot starts with the memory of the
    same init, `random`'s state included (the retry jitter would be drawn alike in every
    container). Reseed it from the OS, and count the next invocation as this environment's
    cold start."""
    random.seed()
    INVOCATION.reset()


def register_snapstart_hooks(module: Any = None) -> bool:
    """Register `after_snapshot_restore` with the runtime's hook module (snapshot_restore_py,
    present in Lambda's Python runtimes that support SnapStart); False elsewhere."""
    if module is None:
        try:
            module = importlib.import_module("snapshot_restore_py")
        except ImportError:
            return False
    module.register_after_restore(after_snapshot_restore)
    return True


register_snapstart_hooks()


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """requestId, coldStart and functionName for one record."""
    request_id = INVOCATION.request_id(record)
    fields: dict[str, Any] = {}
    if request_id:
        fields["requestId"] = request_id
    fields["coldStart"] = INVOCATION.cold_start(request_id)
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function_name:
        fields["functionName"] = function_name
    return fields


def _timestamp(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": level_name(record.levelno),
            "logger": record.name,
            "message": record.getMessage(),
            **context_fields(record),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and key not in out:
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
        root.setLevel(parse_level(os.environ.get("LOG_LEVEL")))
        root.propagate = False
        root._wscore_configured = True  # type: ignore[attr-defined]
    return root if name == "wscore" else root.getChild(name.removeprefix("wscore."))


def deployment_dimensions(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The dimensions every metric carries: which deployment it comes from."""
    source = os.environ if env is None else env
    return {
        "Project": source.get("METRIC_PROJECT", "").strip() or _LOCAL,
        "Env": source.get("METRIC_ENV", "").strip() or _LOCAL,
    }


def _to_stdout(logger: logging.Logger, document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, default=str, separators=(",", ":")) + "\n")


# Where metric lines go: stdout, which Lambda ships to CloudWatch Logs (EMF is extracted
# there). The local gateway replaces it to keep them out of its console unless asked.
metric_writer: Callable[[logging.Logger, dict[str, Any]], None] = _to_stdout


def metric(
    logger: logging.Logger,
    name: str,
    *,
    properties: Mapping[str, Any] | None = None,
    **values: int | float | str,
) -> None:
    """Write one CloudWatch Embedded Metric Format line, whatever the log level.

    Numeric values become metrics (unit Count); string values become dimensions, published
    both with the deployment's Project/Env and rolled up to Project/Env alone. `properties`
    are searchable fields that are neither. `logger` names the line's source.
    """
    deployment = deployment_dimensions()
    counts = {k: v for k, v in values.items() if not isinstance(v, str)}
    extra_dims = [k for k, v in values.items() if isinstance(v, str)]
    dimension_sets = [list(deployment)]
    if extra_dims:
        dimension_sets.append([*deployment, *extra_dims])
    namespace = os.environ.get("METRIC_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
    now = time.time()
    record = logger.makeRecord(logger.name, logging.INFO, "", 0, name, (), None)
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": k, "Unit": "Count"} for k in counts],
                }
            ],
        },
        "timestamp": _timestamp(now),
        "logger": logger.name,
        "message": name,
        "metric": name,
        **context_fields(record),
        **dict(properties or {}),
        **deployment,
        **values,
    }
    metric_writer(logger, document)
