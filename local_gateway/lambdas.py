"""Runs the product's Lambda handlers in-process, in a thread pool, like Lambda would.

Handlers block (boto3), so they never run on the event loop. Modules are imported once and
cached, like a warm container: their cold-start code (config, clients) runs on first use,
after the handler environment is installed.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from local_gateway.events import ACCOUNT_ID

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from local_gateway.manifest import Function

log = logging.getLogger("local_gateway.lambdas")

# Generous per-invocation share of a client's HTTP pool (the handlers broadcast with up to
# 32 threads per invocation).
POOL_PER_INVOCATION = 32


def widen_connection_pools(minimum: int) -> None:
    """Size every botocore HTTP pool in this process for all concurrent invocations.

    In Lambda each concurrent invocation has its own container, so a client's pool (the
    handlers size theirs for one invocation's broadcast threads) is never shared. Here all
    invocations share one process and one cached client: with a pool sized for one, the
    overflow connections are discarded after each call, and thousands of sockets in
    TIME_WAIT exhaust the local ports ("Could not connect to the endpoint URL").
    """
    from botocore import httpsession

    original = httpsession.URLLib3Session.__init__
    if getattr(original, "_widened", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        size = kwargs.get("max_pool_connections") or httpsession.MAX_POOL_CONNECTIONS
        kwargs["max_pool_connections"] = max(int(size), minimum)
        original(self, *args, **kwargs)

    __init__._widened = True  # type: ignore[attr-defined]
    httpsession.URLLib3Session.__init__ = __init__  # type: ignore[method-assign]


# A job of the FairExecutor: its future, the function and its arguments.
_Job: TypeAlias = tuple["Future[Any]", "Callable[..., Any]", tuple[Any, ...]]


class FairExecutor:
    """A fixed pool of threads shared fairly between keys (tenants), not first come first
    served.

    In Lambda every invocation gets its own container, so nothing queues. Here route
    invocations share a few threads: with one FIFO queue, 150 members of a room closing at
    once queued 150 $disconnects, each announcing the leave to the rest of the room, and
    every other client of the gateway waited behind them (an unrelated tenant's heartbeat
    took ~30 s). Here each key has its own FIFO, the threads serve the keys in turn, and
    one key never holds more than `workers - 1` threads, so a thread is always left for
    another key's next invocation. Jobs of one key still run in submission order of start.
    """

    def __init__(self, workers: int, name: str) -> None:
        self.workers = workers
        self._share = max(1, workers - 1)  # threads one key may hold at once
        self._cond = threading.Condition()
        self._waiting: OrderedDict[str, deque[_Job]] = OrderedDict()  # keys in turn order
        self._running: Counter[str] = Counter()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, key: str, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the executor is shut down")
            self._waiting.setdefault(key, deque()).append((future, fn, args))
            self._cond.notify()
        return future

    def _next(self) -> tuple[str, _Job] | None:
        """The first key in turn order below its share, and its oldest job (under the lock)."""
        for key, jobs in self._waiting.items():
            if self._running[key] < self._share:
                job = jobs.popleft()
                if jobs:
                    self._waiting.move_to_end(key)  # its turn is over: back of the line
                else:
                    del self._waiting[key]
                self._running[key] += 1
                return key, job
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                while (picked := self._next()) is None:
                    if self._closed:
                        return
                    self._cond.wait()
            key, (future, fn, args) = picked
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._cond:
                    self._running[key] -= 1
                    if not self._running[key]:
                        del self._running[key]
                    self._cond.notify_all()  # a key at its share may run again

    def shutdown(self) -> None:
        """Cancel what is waiting; running jobs finish in their daemon threads."""
        with self._cond:
            self._closed = True
            for jobs in self._waiting.values():
                for future, _, _ in jobs:
                    future.cancel()
            self._waiting.clear()
            self._cond.notify_all()


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerError(Exception):
    """The handler raised: Lambda would report a function error (Unhandled)."""

    def __init__(self, function: str, cause: BaseException) -> None:
        super().__init__(f"{function}: {type(cause).__name__}: {cause}")
        self.function = function
        self.cause = cause


class LambdaRuntime:
    """Imports handler modules from the handlers directory and invokes them."""

    def __init__(self, handlers_dir: Path, region: str, workers: int, async_workers: int) -> None:
        self._region = region
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._lock = threading.Lock()
        # Two pools, so that queue and stream consumers never starve the WebSocket routes
        # ($connect waiting behind a burst of fan-out batches), and the routes' pool shared
        # fairly between tenants. Both stay small: every handler shares this process's GIL
        # with the server and the emulator, and more threads only add contention.
        self.executor = FairExecutor(workers, "route")
        self.async_executor = ThreadPoolExecutor(
            max_workers=async_workers, thread_name_prefix="consumer"
        )
        widen_connection_pools(POOL_PER_INVOCATION * (workers + async_workers))
        # The Lambda layout: the function's code root on sys.path (the core package, the
        # layer's python/, is already there: see local_gateway/__init__.py).
        if str(handlers_dir) not in sys.path:
            sys.path.insert(0, str(handlers_dir))

    def handler(self, fn: Function) -> Callable[[Any, Any], Any]:
        """The handler callable, imported on first use (the 'cold start')."""
        with self._lock:
            cached = self._handlers.get(fn.name)
            if cached is None:
                module = importlib.import_module(fn.module)
                cached = getattr(module, fn.attribute)
                self._handlers[fn.name] = cached
            return cached

    def context(self, fn: Function) -> LambdaContext:
        name = f"local-{fn.name}"
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=fn.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self._region}:{ACCOUNT_ID}:function:{name}",
            timeout_s=fn.timeout_s,
        )

    def invoke_sync(self, fn: Function, event: Any, expected_error: str | None = None) -> Any:
        """Invoke in the calling thread; raises HandlerError when the handler raises.

        A failure is logged with its traceback, except an exception whose message is
        `expected_error` (an outcome the caller reports itself, like the authorizer's 401).
        """
        context = self.context(fn)
        started = time.monotonic()
        try:
            result = self.handler(fn)(event, context)
        except Exception as exc:
            if expected_error is None or str(exc) != expected_error:
                log.error(
                    "function %s failed: %s: %s", fn.name, type(exc).__name__, exc, exc_info=exc
                )
            raise HandlerError(fn.name, exc) from exc
        elapsed = time.monotonic() - started
        if elapsed > fn.timeout_s:
            log.warning(
                "function %s ran %.1f s, over its %d s timeout (Lambda would have killed it)",
                fn.name,
                elapsed,
                fn.timeout_s,
            )
        return result

    async def invoke(
        self, fn: Function, event: Any, key: str, expected_error: str | None = None
    ) -> Any:
        """Invoke on the routes' pool, served fairly by `key` (the caller's tenant), without
        blocking the event loop."""
        future = self.executor.submit(key, self.invoke_sync, fn, event, expected_error)
        return await asyncio.wrap_future(future)

    def warm(self, functions: list[Function]) -> None:
        """Import every handler now so a broken handler fails the start, not a request."""
        for fn in functions:
            self.handler(fn)

    def shutdown(self) -> None:
        self.async_executor.shutdown(wait=False, cancel_futures=True)
        self.executor.shutdown()
