"""Back-off after ``rate_limited``: requests of the refused action wait out ``retryAfterMs``.

The server refuses a request over its limits with ``rate_limited`` and says when to try
again (``retryAfterMs``, docs/PROTOCOL.md). Sending sooner would only be refused again, so
the client holds further requests of that action until then, and sends them in the order
they were made. Nothing is ever resent by itself: the refused request fails, and whether
to send it again is the application's call.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


@dataclass
class _Hold:
    until: float  # event-loop time
    released: asyncio.Future[None]
    sleeper: asyncio.Task[None] | None = None


class Holds:
    """The actions held after a ``rate_limited`` reply, each until its wait has passed."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._sleep = sleep
        self._holds: dict[str, _Hold] = {}

    def hold(self, action: object, retry_after_ms: float | None) -> None:
        """Hold `action` for `retry_after_ms` (a later, longer refusal extends the hold)."""
        if not isinstance(action, str) or retry_after_ms is None or retry_after_ms <= 0:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + retry_after_ms / 1000
        hold = self._holds.get(action)
        if hold is None:
            hold = self._holds[action] = _Hold(until, loop.create_future())
        elif until <= hold.until:
            return
        if hold.sleeper is not None:
            hold.sleeper.cancel()
        hold.until = until
        hold.sleeper = asyncio.create_task(self._release(action, hold, retry_after_ms / 1000))

    async def wait(self, action: str, request: asyncio.Future[Any]) -> None:
        """Return once `action` is not held, or `request` is over (failed meanwhile)."""
        hold = self._holds.get(action)
        if hold is not None:
            await asyncio.wait([request, hold.released], return_when=asyncio.FIRST_COMPLETED)

    def clear(self) -> None:
        """The client stopped: no hold outlives it (its requests have failed already)."""
        holds, self._holds = self._holds, {}
        for hold in holds.values():
            if hold.sleeper is not None:
                hold.sleeper.cancel()
            if not hold.released.done():
                hold.released.set_result(None)

    async def _release(self, action: str, hold: _Hold, delay: float) -> None:
        await self._sleep(delay)
        if self._holds.get(action) is hold:
            del self._holds[action]
        with contextlib.suppress(asyncio.InvalidStateError):
            hold.released.set_result(None)
