"""Gateway settings from the environment, validated once at start.

The gateway's own knobs are prefixed `GATEWAY_`; `HOST`, `PORT` and `STAGE` are shared with
`make token` and `make publish`. Variables the handlers read (FANOUT_THRESHOLD, ...) are
passed through to them unchanged by `aws.handler_environment`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tools.manifest import MANIFEST_PATH, ROOT
from wscore.config import env_float, env_int
from wscore.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

# API Gateway's frame limit (the message limit is wscore.protocol.MAX_MESSAGE_BYTES): the
# gateway only warns about larger frames, see docs/LOCAL_GATEWAY.md.
MAX_FRAME_BYTES = 32 * 1024
# Upper bound of the gateway's timeouts and intervals: a day is beyond any local use.
MAX_SECONDS = 86400.0
# Where `make dev` listens unless HOST, PORT or STAGE say otherwise (the Makefile's defaults).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001
DEFAULT_STAGE = "dev"


def client_host(host: str) -> str:
    """The host a local client dials (a wildcard bind is reached on loopback)."""
    return DEFAULT_HOST if host in ("0.0.0.0", "::", "") else host  # noqa: S104


def make_settings(host: str, port: int, stage: str) -> str:
    """`HOST=.. PORT=.. STAGE=..` for what differs from the defaults: the prefix that makes a
    printed `make token` / `make publish` hint reach this gateway ('' for the defaults)."""
    settings = {"HOST": client_host(host), "PORT": str(port), "STAGE": stage}
    defaults = {"HOST": DEFAULT_HOST, "PORT": str(DEFAULT_PORT), "STAGE": DEFAULT_STAGE}
    return " ".join(f"{k}={v}" for k, v in settings.items() if v != defaults[k])


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the gateway needs to start; see docs/LOCAL_GATEWAY.md for each field."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    stage: str = DEFAULT_STAGE
    idle_timeout_s: float = 600.0
    max_duration_s: float = 7200.0
    ttl_sweep_s: float = 30.0
    # Small on purpose: all invocations share this process's interpreter lock with the
    # server; on a 2-CPU machine 8 + 8 joined a 150-user room as fast as 16 + 8.
    workers: int = 8
    consumer_workers: int = 8
    region: str = "us-east-1"
    api_id: str = "localdev01"
    table_name: str = "local-websocket-connections"
    queue_prefix: str = "local-websocket"
    sqs_visibility_s: int | None = None
    manifest_path: Path = MANIFEST_PATH
    handlers_dir: Path = ROOT / "lambda_src" / "handlers"
    static_dir: Path = ROOT / "clients" / "demo"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewayConfig:
        env = os.environ if env is None else env
        stage = env.get("STAGE", DEFAULT_STAGE).strip() or DEFAULT_STAGE
        if not stage.replace("-", "").replace("_", "").isalnum() or stage.startswith("_"):
            raise ConfigError(f"STAGE must be letters, digits, '-' or '_', got {stage!r}")
        visibility = env.get("GATEWAY_SQS_VISIBILITY_S", "").strip()

        def path(name: str, default: Path) -> Path:
            raw = env.get(name, "").strip()
            return Path(raw).resolve() if raw else default

        return cls(
            host=env.get("HOST", DEFAULT_HOST).strip() or DEFAULT_HOST,
            port=env_int(env, "PORT", DEFAULT_PORT, 0, 65535),
            stage=stage,
            idle_timeout_s=env_float(env, "GATEWAY_IDLE_TIMEOUT_S", 600.0, 0.05, MAX_SECONDS),
            max_duration_s=env_float(env, "GATEWAY_MAX_DURATION_S", 7200.0, 0.05, MAX_SECONDS),
            ttl_sweep_s=env_float(env, "GATEWAY_TTL_SWEEP_S", 30.0, 0.05, MAX_SECONDS),
            workers=env_int(env, "GATEWAY_WORKERS", 8, 2, 1024),
            consumer_workers=env_int(env, "GATEWAY_CONSUMER_WORKERS", 8, 1, 1024),
            region=env.get("AWS_DEFAULT_REGION", "").strip() or "us-east-1",
            sqs_visibility_s=(
                env_int(env, "GATEWAY_SQS_VISIBILITY_S", 30, 0, 43200) if visibility else None
            ),
            manifest_path=path("GATEWAY_MANIFEST", MANIFEST_PATH),
            handlers_dir=path("GATEWAY_HANDLERS_DIR", ROOT / "lambda_src" / "handlers"),
            static_dir=path("GATEWAY_STATIC_DIR", ROOT / "clients" / "demo"),
        )

    def client_host(self) -> str:
        """The host a local client dials (a wildcard bind is reached on loopback)."""
        return client_host(self.host)
