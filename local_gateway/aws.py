"""The embedded AWS: a moto server (own process) with the table and queues of the module.

Definitions come from the manifest only. The moto server listens on 127.0.0.1 on a free
port; handlers reach it through the service-specific endpoint variables
(AWS_ENDPOINT_URL_DYNAMODB, ...) that boto3 honours, with fake credentials.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from tools.aws_local import create_queues, create_table, queue_environment
from tools.devtoken import DEV_AUDIENCE, DEV_ISSUER, DEV_SECRET
from tools.manifest import ROOT
from wscore.limits import Limit, RateLimits

if TYPE_CHECKING:
    from local_gateway.config import GatewayConfig
    from local_gateway.manifest import Manifest
    from tools.aws_local import EmulatedQueue

log = logging.getLogger("local_gateway.aws")

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Module variables a developer may set for `make dev` (unset, the module does not set them).
OPTIONAL_PASSTHROUGH = (
    "ALLOWED_ORIGINS",
    "JWT_USER_CLAIM",
    "JWT_TENANT_CLAIM",
    "JWT_ROOMS_CLAIM",
    "JWT_ROLES_CLAIM",
    "JWT_RATE_LIMIT_CLAIM",
    "JWT_LEEWAY_SECONDS",
    "TENANT_RATE_LIMITS",
)
# Variables that would send boto3 to a real account or profile: never inherited.
_SCRUBBED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
# The emulator's command line after the interpreter: the benchmark's metered gateway
# (bench/gateway_meter.py) replaces it with a moto server that counts DynamoDB requests.
EMULATOR_ARGS: tuple[str, ...] = ("-m", "local_gateway.moto_process")


class EmulatorError(RuntimeError):
    """The embedded AWS could not be started."""


@dataclass
class EmbeddedAws:
    """A running moto server plus the resources created in it."""

    manifest: Manifest
    config: GatewayConfig
    endpoint: str = ""
    table_name: str = ""
    stream_arn: str = ""
    queues: dict[str, EmulatedQueue] = field(default_factory=dict)  # by manifest name
    _server: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start moto in a child process and create the table and queues from the manifest."""
        self._server = subprocess.Popen(  # noqa: S603 - the emulator module, ours
            [sys.executable, *EMULATOR_ARGS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            start_new_session=True,  # Ctrl-C is for the gateway; it stops moto itself
        )
        assert self._server.stdout is not None
        line = self._server.stdout.readline().split()
        if len(line) != 2:
            self.stop()
            raise EmulatorError("the embedded moto server did not start (see the error above)")
        self.endpoint = f"http://{line[0]}:{line[1]}"
        self.table_name = self.config.table_name
        self.stream_arn = create_table(self.client("dynamodb"), self.table_name, self.manifest.raw)
        self.queues = create_queues(
            self.client("sqs"),
            self.config.queue_prefix,
            self.manifest.raw,
            self.config.sqs_visibility_s,
        )

    def stop(self) -> None:
        """Close the child's stdin (its signal to stop), then make sure it is gone."""
        server, self._server = self._server, None
        if server is None:
            return
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None else None

    def exit_status(self) -> int | None:
        """The emulator process's exit status once it has ended on its own, else None."""
        return self._server.poll() if self._server is not None else None

    def queue_urls(self) -> dict[str, str]:
        """Every queue's and DLQ's URL by name (fanout, fanout-dlq, ...), for /_dev/health."""
        urls: dict[str, str] = {}
        for name, queue in self.queues.items():
            urls[name] = queue.url
            urls[f"{name}-dlq"] = queue.dlq_url
        return urls

    def client(self, service: str) -> Any:
        """A boto3 client bound to the emulator (for the gateway's own pollers)."""
        factory: Any = boto3.client  # service names are checked at runtime, not by mypy
        return factory(
            service,
            endpoint_url=self.endpoint,
            region_name=self.config.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard"}, max_pool_connections=50),
        )


def handler_environment(aws: EmbeddedAws, management_endpoint: str) -> dict[str, str]:
    """The variables the Terraform module sets on the functions, with local values.

    Tunables the developer exported (FANOUT_THRESHOLD, CONNECTION_TTL_SECONDS, ...) win over
    the module's defaults so that tests and demos can shrink them.
    """
    env = {
        "TABLE_NAME": aws.table_name,
        "FANOUT_THRESHOLD": os.environ.get("FANOUT_THRESHOLD", "100"),
        "CONNECTION_TTL_SECONDS": os.environ.get("CONNECTION_TTL_SECONDS", "660"),
        "MAX_CONNECTION_SECONDS": os.environ.get("MAX_CONNECTION_SECONDS", "7200"),
        "HISTORY_RETENTION_SECONDS": os.environ.get("HISTORY_RETENTION_SECONDS", "86400"),
        "PRESENCE_COALESCE_THRESHOLD": os.environ.get("PRESENCE_COALESCE_THRESHOLD", "100"),
        "PRESENCE_INTERVAL_SECONDS": os.environ.get("PRESENCE_INTERVAL_SECONDS", "2"),
        **rate_limit_environment(),
        "MANAGEMENT_ENDPOINT": management_endpoint,
        # WARNING, not the module's INFO: make dev's log is the gateway's one line per
        # connection event; LOG_LEVEL=INFO adds the handlers' own lines (DEBUG: metrics too).
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "").strip() or "WARNING",
        "TRACING_ENABLED": "false",
        "JWT_ALGORITHM": "HS256",
        "JWT_ISSUER": DEV_ISSUER,
        "JWT_AUDIENCE": DEV_AUDIENCE,
        "DEV_MODE": "true",
        "JWT_DEV_SECRET": DEV_SECRET,
        "AWS_ENDPOINT_URL_DYNAMODB": aws.endpoint,
        "AWS_ENDPOINT_URL_DYNAMODBSTREAMS": aws.endpoint,
        "AWS_ENDPOINT_URL_SQS": aws.endpoint,
        "AWS_DEFAULT_REGION": aws.config.region,
        "AWS_REGION": aws.config.region,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        **FAKE_CREDENTIALS,
    }
    env.update(queue_environment(aws.queues))
    for optional in OPTIONAL_PASSTHROUGH:  # module variables that are unset by default
        if os.environ.get(optional):
            env[optional] = os.environ[optional]
    return env


def rate_limit_environment() -> dict[str, str]:
    """sendMessage's limits: the module's defaults (wscore.limits), or what was exported."""
    defaults = RateLimits()
    env: dict[str, str] = {}
    for prefix, limit in (("CONNECTION", defaults.connection), ("TENANT", defaults.tenant)):
        for suffix, value in _limit_values(limit).items():
            name = f"RATE_LIMIT_{prefix}_{suffix}"
            env[name] = os.environ.get(name, value)
    return env


def _limit_values(limit: Limit) -> dict[str, str]:
    return {"PER_SECOND": f"{limit.per_second:g}", "BURST": str(limit.burst)}


def apply_environment(env: dict[str, str]) -> None:
    """Install the handler environment in this process (handlers run in-process)."""
    for name in _SCRUBBED:
        os.environ.pop(name, None)
    os.environ.update(env)
