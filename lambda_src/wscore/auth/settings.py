"""Authorizer settings: parsed and validated once per container from the environment.

A missing or malformed variable raises `ConfigError` naming it, so a bad deploy fails on its
first invocation. The dev secret is accepted only with DEV_MODE=true (the local gateway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from wscore.auth.secrets import (
    DEFAULT_MAX_AGE_S,
    MIN_SECRET_BYTES,
    SecretRef,
)
from wscore.config import env_bool, env_int, env_str
from wscore.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

ALGORITHMS = ("HS256", "RS256", "ES256")
MAX_LEEWAY_SECONDS = 60
DEFAULT_LEEWAY_SECONDS = 30
MAX_SECRET_CACHE_SECONDS = 3600
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")


def _env(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _claim_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = _env(env, name) or default
    if not _CLAIM_NAME.fullmatch(value):
        raise ConfigError(f"{name} must be a claim name of [A-Za-z0-9_.:/-], got {value!r}")
    return value


def _origins(env: Mapping[str, str]) -> frozenset[str] | None:
    raw = _env(env, "ALLOWED_ORIGINS")
    origins = frozenset(o.strip() for o in raw.split(",") if o.strip())
    return origins or None


def _jwks_url(env: Mapping[str, str], dev_mode: bool) -> str:
    url = env_str(env, "JWT_JWKS_URL")
    parsed = urlparse(url)
    allowed = ("https", "http") if dev_mode else ("https",)
    if parsed.scheme not in allowed or not parsed.netloc:
        need = "an http(s) URL (DEV_MODE)" if dev_mode else "an https URL"
        raise ConfigError(f"JWT_JWKS_URL must be {need}, got {url!r}")
    return url


@dataclass(frozen=True)
class AuthSettings:
    """Authorizer configuration, validated once per container."""

    algorithm: str
    issuer: str
    audience: str
    secret_arn: str | None = None
    dev_secret: str | None = None
    jwks_url: str | None = None
    dev_mode: bool = False
    user_claim: str = "sub"
    tenant_claim: str = "tenant_id"
    rooms_claim: str = "rooms"
    roles_claim: str = "roles"
    # The tenant's own sendMessage limit, {"perSecond": n, "burst": n} (wscore.limits).
    rate_limit_claim: str = "rate_limit"
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS
    allowed_origins: frozenset[str] | None = None
    secret_cache_seconds: int = int(DEFAULT_MAX_AGE_S)

    def __repr__(self) -> str:  # keeps the dev secret out of any accidental log line
        return (
            f"AuthSettings(algorithm={self.algorithm!r}, issuer={self.issuer!r}, "
            f"audience={self.audience!r}, dev_mode={self.dev_mode})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthSettings:
        """Parse and validate; raise ConfigError naming the offending variable."""
        dev_mode = env_bool(env, "DEV_MODE")
        algorithm = env_str(env, "JWT_ALGORITHM").upper()
        if algorithm not in ALGORITHMS:
            raise ConfigError(f"JWT_ALGORITHM must be one of {', '.join(ALGORITHMS)}")
        dev_secret = _env(env, "JWT_DEV_SECRET") or None
        if dev_secret and not dev_mode:
            raise ConfigError("JWT_DEV_SECRET is refused unless DEV_MODE=true (local only)")
        secret_arn = jwks_url = None
        if algorithm == "HS256":
            secret_arn, dev_secret = cls._hs256_source(env, dev_secret)
        else:
            if dev_secret:
                raise ConfigError(f"JWT_DEV_SECRET applies to HS256 only, not {algorithm}")
            jwks_url = _jwks_url(env, dev_mode)
        return cls(
            algorithm=algorithm,
            issuer=env_str(env, "JWT_ISSUER"),
            audience=env_str(env, "JWT_AUDIENCE"),
            secret_arn=secret_arn,
            dev_secret=dev_secret,
            jwks_url=jwks_url,
            dev_mode=dev_mode,
            user_claim=_claim_name(env, "JWT_USER_CLAIM", "sub"),
            tenant_claim=_claim_name(env, "JWT_TENANT_CLAIM", "tenant_id"),
            rooms_claim=_claim_name(env, "JWT_ROOMS_CLAIM", "rooms"),
            roles_claim=_claim_name(env, "JWT_ROLES_CLAIM", "roles"),
            rate_limit_claim=_claim_name(env, "JWT_RATE_LIMIT_CLAIM", "rate_limit"),
            leeway_seconds=env_int(
                env, "JWT_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS, 0, MAX_LEEWAY_SECONDS
            ),
            allowed_origins=_origins(env),
            secret_cache_seconds=env_int(
                env,
                "JWT_SECRET_CACHE_SECONDS",
                int(DEFAULT_MAX_AGE_S),
                1,
                MAX_SECRET_CACHE_SECONDS,
            ),
        )

    @staticmethod
    def _hs256_source(
        env: Mapping[str, str], dev_secret: str | None
    ) -> tuple[str | None, str | None]:
        arn = _env(env, "JWT_SECRET_ARN") or None
        if arn and dev_secret:
            raise ConfigError("set JWT_SECRET_ARN or JWT_DEV_SECRET, not both")
        if arn:
            try:
                SecretRef.parse(arn)
            except ValueError as exc:
                raise ConfigError(f"JWT_SECRET_ARN {exc}") from None
            return arn, None
        if dev_secret:
            if len(dev_secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(f"JWT_DEV_SECRET must be at least {MIN_SECRET_BYTES} bytes")
            return None, dev_secret
        raise ConfigError("JWT_SECRET_ARN is required for HS256 (JWT_DEV_SECRET with DEV_MODE)")

    @property
    def required_claims(self) -> list[str]:
        """Claims PyJWT must find (non-null) before we look at anything else."""
        return ["exp", "iat", "iss", "aud", self.user_claim, self.tenant_claim]
