"""`python -m local_gateway`: start the embedded AWS, the handlers and the server.

Stops cleanly on SIGINT/SIGTERM: connections closed (1001, $disconnect fired), pollers
and moto stopped, exit status 0, no traceback. If the embedded emulator dies, it says so in
one line and stops the same way with exit status 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from local_gateway.aws import EmulatorError
from local_gateway.config import GatewayConfig
from local_gateway.logs import setup_gateway_logging
from local_gateway.runner import GatewayRunner, StartupError
from wscore.errors import ConfigError

STOP_TIMEOUT_S = 20.0
log = logging.getLogger("local_gateway")


def _setup_logging() -> None:
    setup_gateway_logging(os.environ.get("GATEWAY_LOG_LEVEL", "INFO"))


async def _serve(config: GatewayConfig) -> int:
    runner = GatewayRunner(config)
    status = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        log.info(
            "Starting the local gateway on %s:%d (embedded AWS emulation, then every handler)",
            config.host,
            config.port,
        )
        await runner.start()
        print(runner.banner(), flush=True)
        stopped, failed = (
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(runner.failed.wait()),
        )
        await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        failed.cancel()
        if runner.failed.is_set():
            log.error("%s", runner.failure)
            status = 1
        log.info("Stopping the local gateway...")
    finally:
        try:
            await asyncio.wait_for(runner.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("forced stop after a timeout")
            runner.aws.stop()
    return status


def main() -> int:
    _setup_logging()
    try:
        config = GatewayConfig.from_env()
        return asyncio.run(_serve(config))
    except (ConfigError, StartupError, EmulatorError) as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped by now; skip interpreter teardown of moto's and botocore's
    # large module graph, which alone takes seconds.
    os._exit(status)
