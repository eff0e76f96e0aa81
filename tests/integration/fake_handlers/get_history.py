# mypy: disable-error-code="import-not-found"
"""Route test double: echoes the event and the Lambda context."""

from __future__ import annotations

from _echo import echo as handler

__all__ = ["handler"]
