"""Start and stop the whole local gateway in the right order.

Start: moto and resources -> bind the port (PORT=0 picks a free one) -> install the handler
environment (MANAGEMENT_ENDPOINT needs the port) -> import every handler (a broken handler
fails the start) -> pollers -> ready. Stop: reverse order, each step bounded.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from local_gateway.aws import EmbeddedAws, apply_environment, handler_environment
from local_gateway.config import make_settings
from local_gateway.events import EventFactory
from local_gateway.http_limits import QuietAppRunner
from local_gateway.lambdas import LambdaRuntime
from local_gateway.logs import adopt_handler_logging
from local_gateway.manifest import load_manifest
from local_gateway.pollers import SqsPoller, StreamPoller, TtlMarks, TtlSweeper, Worker
from local_gateway.server import Gateway
from tools.devtoken import mint

if TYPE_CHECKING:
    from local_gateway.config import GatewayConfig

log = logging.getLogger("local_gateway")
EMULATOR_POLL_S = 0.2  # how often the emulator process is checked


class StartupError(RuntimeError):
    """The gateway cannot start; the message says what to do."""


class GatewayRunner:
    """Owns every part of a running gateway."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.manifest = load_manifest(config.manifest_path)
        self.aws = EmbeddedAws(self.manifest, config)
        self.runtime = LambdaRuntime(
            config.handlers_dir, config.region, config.workers, config.consumer_workers
        )
        self.gateway: Gateway | None = None
        self.workers: list[Worker] = []
        self.sweeper: TtlSweeper | None = None
        self._site_runner: web.AppRunner | None = None
        self.port = config.port
        # Set (with the reason) when the gateway can no longer serve: `make dev` then exits 1.
        self.failed = asyncio.Event()
        self.failure = ""
        self._watcher: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.config.client_host()}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.client_host()}:{self.port}/{self.config.stage}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.aws.start)
        events = EventFactory("", self.config.stage, "", self.config.region)
        self.gateway = Gateway(self.config, self.manifest, self.runtime, events)
        await self._bind(self.gateway.app())
        events.api_id = self.config.api_id
        events.domain_name = f"{self.config.client_host()}:{self.port}"
        management = f"{self.base_url}/{self.config.stage}"
        apply_environment(handler_environment(self.aws, management))
        try:
            await loop.run_in_executor(
                None, self.runtime.warm, list(self.manifest.functions.values())
            )
        except ImportError as exc:
            raise StartupError(
                f"cannot import a handler from {self.config.handlers_dir}: {exc}"
            ) from exc
        adopt_handler_logging()
        self._start_pollers()
        self._watcher = asyncio.create_task(self._watch_emulator())
        self.gateway.extra_health.update(
            url=self.ws_url,
            demoUrl=f"{self.base_url}/",
            makeSettings=self.make_settings,
            managementEndpoint=management,
            awsEndpoint=self.aws.endpoint,
            awsPid=self.aws.pid,
            tableName=self.aws.table_name,
            queues=self.aws.queue_urls(),
        )
        self.gateway.ready.set()

    async def _bind(self, app: web.Application) -> None:
        self._site_runner = QuietAppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await self._site_runner.setup()
        # A large backlog: a broadcast opens many @connections calls at once (like AWS,
        # which never refuses them).
        site = web.TCPSite(self._site_runner, self.config.host, self.config.port, backlog=4096)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {self.config.port} on {self.config.host} is in use "
                    "(another `make dev`?); choose another with PORT=..."
                ) from exc
            raise StartupError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc}"
            ) from exc
        server: Any = site._server  # the bound port when PORT=0
        self.port = int(server.sockets[0].getsockname()[1])

    def _start_pollers(self) -> None:
        region = self.config.region
        for queue in self.manifest.queues.values():
            fn = self.manifest.functions[queue.consumer]
            poller = SqsPoller(
                sqs=self.aws.client("sqs"),
                queue_url=self.aws.queues[queue.name].url,
                queue_arn=self.aws.queues[queue.name].arn,
                fn=fn,
                runtime=self.runtime,
                region=region,
            )
            self.workers.append(poller)
        marks = TtlMarks()
        consumer = self.manifest.stream_consumer
        if consumer is not None:
            self.workers.append(
                StreamPoller(
                    streams=self.aws.client("dynamodbstreams"),
                    stream_arn=self.aws.stream_arn,
                    fn=consumer,
                    runtime=self.runtime,
                    stream_filter=self.manifest.stream_filter,
                    marks=marks,
                    ttl_attribute=self.manifest.ttl_attribute,
                    region=region,
                )
            )
        self.sweeper = TtlSweeper(
            dynamodb=self.aws.client("dynamodb"),
            table=self.aws.table_name,
            ttl_attribute=self.manifest.ttl_attribute,
            key_names=self.manifest.key_names,
            marks=marks,
            interval_s=self.config.ttl_sweep_s,
        )
        self.workers.append(self.sweeper)
        for worker in self.workers:
            worker.emulator_alive = lambda: self.aws.exit_status() is None
            worker.start()

    async def _watch_emulator(self) -> None:
        """Fail the gateway, once and loudly, if the emulator process ends on its own.

        Every handler and poller needs it: without this, /_dev/health kept answering ok and
        each poller logged a traceback every half second.
        """
        while (status := self.aws.exit_status()) is None:
            await asyncio.sleep(EMULATOR_POLL_S)
        for worker in self.workers:  # silence the pollers first: their calls can only fail
            worker.stop_event.set()
        self.failure = (
            f"the embedded AWS emulator (moto, pid {self.aws.pid}) exited with status {status}; "
            "the gateway cannot serve without it (its data is gone): stopping. Run make dev again"
        )
        if self.gateway is not None:
            self.gateway.failure = self.failure
        self.failed.set()

    async def stop(self) -> None:
        """Bounded, ordered shutdown; safe to call after a failed start."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        if self._watcher is not None:
            self._watcher.cancel()
        if self.gateway is not None:
            await self.gateway.shutdown()
        if self._site_runner is not None:
            await self._site_runner.cleanup()
        log.debug("server closed after %.2f s", time.monotonic() - started)
        for worker in self.workers:
            worker.stop_event.set()
        for worker in self.workers:
            await loop.run_in_executor(None, worker.stop)
        log.debug("pollers stopped after %.2f s", time.monotonic() - started)
        self.runtime.shutdown()  # does not wait: running handlers die with the process
        await loop.run_in_executor(None, self.aws.stop)
        log.debug("moto stopped after %.2f s", time.monotonic() - started)

    @property
    def make_settings(self) -> str:
        """The `PORT=.. ` prefix that makes a printed make hint reach this gateway."""
        return make_settings(self.config.host, self.port, self.config.stage)

    def banner(self) -> str:
        """What `make dev` prints: the URLs, a ready token and hints that reach this gateway."""
        token = mint("alice", "acme")
        python = sys.executable
        url = f"{self.ws_url}?token={token}"
        make = " ".join(filter(None, [self.make_settings, "make -s"]))
        bob = f'"$({make} token USER=bob TENANT=acme)"'
        return "\n".join(
            [
                f"Local gateway ready: {self.ws_url}",
                f"  demo page: {self.base_url}/   (open it in a browser)",
                f"  token:     {token}   (user alice, tenant acme, 1 h)",
                f'  try:       {python} -m websockets "{url}"',
                '             then type {"action":"joinRoom","roomId":"lobby"}',
                f"  or:        websocat '{url}'",
                f"  tokens:    {make} token USER=bob TENANT=acme [ROOMS='lobby,team-*']",
                f"  publish:   {make} publish TENANT=acme ROOM=lobby EVENT=hello "
                "DATA='{\"n\":1}'",
                f"  cli:       PYTHONPATH=clients/python {python} -m wsclient --url {self.ws_url} "
                f"--token {bob} join lobby",
                f"  manage:    {self.base_url}/{self.config.stage}/@connections/<connectionId>",
                f"  health:    {self.base_url}/_dev/health   (Ctrl-C to stop)",
            ]
        )
