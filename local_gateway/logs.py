"""The one log format of `make dev`: the gateway's own records and the handlers' alike.

    07:01:02.123 INFO    local_gateway connected ZwZfYXy3QqbS1vL= (user=alice tenant=acme)
    07:01:05.456 WARNING wscore.rooms message.rejected reason=not_member connectionId=...

One line per record on stderr (a traceback follows only when a record carries one). The
handlers' JSON lines, which Lambda sends to CloudWatch, are rendered the same way: their
`extra=` fields become `key=value`. Their CloudWatch metric lines (Embedded Metric Format)
are shown only when the handlers log at DEBUG (`LOG_LEVEL=DEBUG`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
# Where the handlers' core package logs (wscore.logs.get_logger's root logger).
HANDLER_LOGGER = "wscore"


def _value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if not text or any(c.isspace() for c in text) else text


class LineFormatter(logging.Formatter):
    """`HH:MM:SS.mmm LEVEL logger message key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = [
            f"{key}={_value(value)}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_") and key != "metric"
        ]
        line = " ".join(
            [
                f"{stamp}.{int(record.msecs):03d}",
                f"{record.levelname:<7}",
                record.name,
                record.getMessage(),
                *fields,
            ]
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class MetricsAtDebug(logging.Filter):
    """Drop metric records (EMF, `_aws`) unless their logger is enabled for DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "_aws"):
            return True
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    handler.addFilter(MetricsAtDebug())
    return handler


def setup_gateway_logging(level: str) -> None:
    """The gateway's own loggers (`local_gateway.*`) at `level` (GATEWAY_LOG_LEVEL)."""
    root = logging.getLogger("local_gateway")
    root.handlers[:] = [stderr_handler()]
    root.setLevel(level.upper())
    root.propagate = False
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines


def adopt_handler_logging() -> None:
    """Send the handlers' records through the gateway's format instead of JSON on stdout.

    Called once the handler environment is installed: wscore.logs configures its root
    logger once (its level from the handlers' LOG_LEVEL) and never again; only its output
    changes here.
    """
    from wscore import logs

    logs.get_logger(HANDLER_LOGGER).handlers[:] = [stderr_handler()]
    logs.metric_writer = _metric_at_debug


def _metric_at_debug(logger: logging.Logger, document: dict[str, Any]) -> None:
    """A handler's metric line, in the gateway's format, only when it logs at DEBUG."""
    if logger.isEnabledFor(logging.DEBUG):
        fields = {k: v for k, v in document.items() if k not in ("message", "timestamp", "logger")}
        logger.debug(document["message"], extra=fields)
