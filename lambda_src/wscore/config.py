"""Function configuration, parsed and validated once per container (cold start).

A missing or malformed variable raises `ConfigError` naming the variable, so a bad deploy
fails on its first invocation with a message that says what to fix.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from wscore.errors import ConfigError
from wscore.limits import MAX_BURST, MAX_PER_SECOND, Limit, RateLimits, limit_from_json
from wscore.protocol import ID_RE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

N = TypeVar("N", int, float)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """Parse a boolean variable strictly (a typo must not silently mean false)."""
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _env_number(
    env: Mapping[str, str],
    name: str,
    default: N,
    lo: N,
    hi: N,
    *,
    parse: Callable[[str], N],
    kind: str,
) -> N:
    """One rule for numeric variables: unset or blank is the default, anything else must
    parse and lie within [lo, hi] (a NaN never does)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def env_int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """Parse an integer variable within [lo, hi]."""
    return _env_number(env, name, default, lo, hi, parse=int, kind="an integer")


def env_float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    """Parse a number (seconds, say) within [lo, hi]; the local gateway's timeouts use it."""
    return _env_number(env, name, default, lo, hi, parse=float, kind="a number")


def env_str(env: Mapping[str, str], name: str) -> str:
    """A required, non-empty string variable."""
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required (set by the Terraform module or the local gateway)")
    return value


MAX_HISTORY_RETENTION_SECONDS = 365 * 86400
# Lambda's environment holds 4 KB in all: TENANT_RATE_LIMITS is for a few tenants (the
# token claim scales to any number).
MAX_TENANT_RATE_LIMITS_CHARS = 2048


def _env_limit(env: Mapping[str, str], prefix: str, default: Limit) -> Limit:
    """`{prefix}_PER_SECOND` (0: off) and `{prefix}_BURST`."""
    per_second = env_float(env, f"{prefix}_PER_SECOND", default.per_second, 0, MAX_PER_SECOND)
    burst = env_int(env, f"{prefix}_BURST", default.burst, 1, MAX_BURST)
    return Limit(per_second, burst)


def _tenant_rate_limits(env: Mapping[str, str]) -> dict[str, Limit]:
    """TENANT_RATE_LIMITS: `{"tenant": {"perSecond": n, "burst": n}, ...}` (unset: none)."""
    name = "TENANT_RATE_LIMITS"
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    if len(raw) > MAX_TENANT_RATE_LIMITS_CHARS:
        raise ConfigError(f"{name} must be at most {MAX_TENANT_RATE_LIMITS_CHARS} characters")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object, got {raw[:64]!r}") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{name} must be a JSON object {{"tenant": {{"perSecond", "burst"}}}}')
    limits: dict[str, Limit] = {}
    for tenant, value in data.items():
        if not ID_RE.fullmatch(tenant):
            raise ConfigError(f"{name}: {tenant[:64]!r} is not a tenant id")
        try:
            limits[tenant] = limit_from_json(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: tenant {tenant!r}: {exc}") from None
    return limits


def rate_limits_from_env(env: Mapping[str, str]) -> RateLimits:
    """sendMessage's limits (wscore.limits): module variables rate_limit_per_connection,
    rate_limit_per_tenant and tenant_rate_limits."""
    defaults = RateLimits()
    return RateLimits(
        connection=_env_limit(env, "RATE_LIMIT_CONNECTION", defaults.connection),
        tenant=_env_limit(env, "RATE_LIMIT_TENANT", defaults.tenant),
        tenants=_tenant_rate_limits(env),
    )


@dataclass(frozen=True, slots=True)
class Config:
    """Settings shared by the data-plane functions (everything but the authorizer)."""

    table_name: str
    fanout_queue_url: str | None = None
    fanout_threshold: int = 100
    connection_ttl_seconds: int = 660
    max_connection_seconds: int = 7200
    management_endpoint: str | None = None
    tracing_enabled: bool = False
    rate_limits: RateLimits = field(default_factory=RateLimits)
    # How long room messages stay in history (0: history off, no seq).
    history_retention_seconds: int = 86400
    # Rooms with more users than this get coalesced presence, one frame per interval.
    presence_coalesce_threshold: int = 100
    presence_interval_seconds: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        endpoint = env.get("MANAGEMENT_ENDPOINT", "").strip().rstrip("/") or None
        if endpoint and not endpoint.startswith(("https://", "http://")):
            raise ConfigError(f"MANAGEMENT_ENDPOINT must be an http(s) URL, got {endpoint!r}")
        return cls(
            table_name=env_str(env, "TABLE_NAME"),
            fanout_queue_url=env.get("FANOUT_QUEUE_URL", "").strip() or None,
            fanout_threshold=env_int(env, "FANOUT_THRESHOLD", 100, 1, 1_000_000),
            connection_ttl_seconds=env_int(env, "CONNECTION_TTL_SECONDS", 660, 60, 7200),
            max_connection_seconds=env_int(env, "MAX_CONNECTION_SECONDS", 7200, 60, 86400),
            management_endpoint=endpoint,
            tracing_enabled=env_bool(env, "TRACING_ENABLED"),
            rate_limits=rate_limits_from_env(env),
            history_retention_seconds=env_int(
                env, "HISTORY_RETENTION_SECONDS", 86400, 0, MAX_HISTORY_RETENTION_SECONDS
            ),
            presence_coalesce_threshold=env_int(
                env, "PRESENCE_COALESCE_THRESHOLD", 100, 1, 1_000_000
            ),
            # SQS delays are whole seconds, up to 900; more than a minute is not presence.
            presence_interval_seconds=env_int(env, "PRESENCE_INTERVAL_SECONDS", 2, 1, 60),
        )


@functools.cache
def get_config() -> Config:
    """The container's configuration (parsed on first use, at cold start)."""
    return Config.from_env(os.environ)
