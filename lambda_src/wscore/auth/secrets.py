"""The HS256 signing secret, read from Secrets Manager or SSM and cached for a bounded time.

The secret never sits in a plain environment variable in AWS (checkov CKV_AWS_45): the
module passes an ARN and this module fetches the value on the first token that needs it.
boto3 is imported only here and only then, so RS256/ES256 authorizers and warm HS256
invocations never pay for its import (the cold-start figures are in docs/PERFORMANCE.md).

Rotation: the value is kept for at most `max_age_s` (JWT_SECRET_CACHE_SECONDS, default
300 s), and every fetch also reads the previous version (Secrets Manager's AWSPREVIOUS
stage, the SSM parameter's previous version). Tokens signed with either verify, so tokens
issued before a rotation keep working until they expire. A token whose signature matches
neither makes the container fetch again at once (at most every `MIN_REFRESH_S`), so tokens
signed with a freshly rotated key are accepted within seconds, not after the cache age.
The procedure is in docs/OPERATIONS.md.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

# Partitions: aws, aws-cn, aws-us-gov, aws-iso...; account ids are 12 digits.
_SECRETS_MANAGER_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:secret:[^\s]+$"
)
_SSM_PARAMETER_ARN = re.compile(
    r"^arn:aws[a-z-]*:ssm:(?P<region>[a-z0-9-]+):\d{12}:parameter/[^\s]+$"
)

# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32

DEFAULT_MAX_AGE_S = 300.0
# A forced fetch (signature matched no cached version) happens at most this often, so a
# flood of forged tokens costs at most one store read per container per interval.
MIN_REFRESH_S = 30.0
# After a failed refresh the last good value is served, and fetched again after this.
RETRY_AFTER_FAILURE_S = 30.0

_log = get_logger("wscore.auth.secrets")


def monotonic() -> float:
    """The cache's clock (a module function, so tests can move a container's time)."""
    return time.monotonic()


# Connect and read timeouts well under the authorizer's 5 s Lambda timeout.
_CONNECT_TIMEOUT_S = 1.0
_READ_TIMEOUT_S = 2.0

ClientFactory = Callable[[str, str], Any]
"""(service name, region) -> boto3 client; injectable so tests can count calls."""


class SecretUnavailableError(Exception):
    """The secret could not be read (permissions, network, missing, too short).

    This is an infrastructure fault, not a bad token: the handler lets it surface as an
    error (API Gateway answers 500) so alarms on authorizer errors catch it.
    """


@dataclass(frozen=True)
class SecretRef:
    """A validated pointer to the secret: which service holds it and in which region."""

    service: str  # "secretsmanager" or "ssm"
    region: str
    arn: str

    @classmethod
    def parse(cls, arn: str) -> SecretRef:
        """Accept a Secrets Manager secret ARN or an SSM parameter ARN, nothing else."""
        match = _SECRETS_MANAGER_ARN.match(arn)
        if match:
            return cls("secretsmanager", match["region"], arn)
        match = _SSM_PARAMETER_ARN.match(arn)
        if match:
            return cls("ssm", match["region"], arn)
        raise ValueError(
            "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:"
            "secret:NAME) or an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)"
        )


def default_client_factory(service: str, region: str) -> Any:
    """Create a boto3 client with short timeouts; boto3 is imported here, lazily."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=_CONNECT_TIMEOUT_S,
        read_timeout=_READ_TIMEOUT_S,
        retries={"mode": "standard", "max_attempts": 2},
    )
    return boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]


@dataclass(frozen=True)
class SecretVersions:
    """The current value and, during a rotation, the previous one."""

    current: bytes
    previous: bytes | None
    fetched_at: float


class SecretProvider:
    """Fetch the secret (current and previous version), keep it for at most `max_age_s`.

    A first fetch that fails raises SecretUnavailableError and is retried by the next
    invocation. A later refresh that fails keeps serving the last good value (the store is
    down; the key has not changed because of that) and is retried after
    RETRY_AFTER_FAILURE_S.
    """

    def __init__(
        self,
        ref: SecretRef,
        client_factory: ClientFactory | None = None,
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._ref = ref
        self._client_factory = client_factory or default_client_factory
        self._max_age_s = max_age_s
        self._clock = clock or monotonic
        self._versions: SecretVersions | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def get(self) -> bytes:
        """Return the current secret bytes, fetching them when absent or too old."""
        return self.versions().current

    def versions(self) -> SecretVersions:
        """Current and previous values, refreshed when older than max_age_s."""
        cached = self._versions
        if cached is not None and self._clock() - cached.fetched_at < self._max_age_s:
            return cached
        with self._lock:
            cached = self._versions
            now = self._clock()
            if cached is None:
                self._versions = self._fetch(now)
            elif now - cached.fetched_at >= self._max_age_s and self._may_retry(now):
                self._refresh(now)
            assert self._versions is not None
            return self._versions

    def refresh_for_unknown_signature(self) -> SecretVersions | None:
        """Fetch again because a token matched no cached version (a rotation may just have
        happened); rate-limited. Return the new versions, or None when nothing changed or
        it is too early to ask again."""
        with self._lock:
            cached = self._versions
            now = self._clock()
            if cached is None or now - cached.fetched_at < MIN_REFRESH_S:
                return None
            if not self._may_retry(now):
                return None
            self._refresh(now)
            fresh = self._versions
            return fresh if fresh is not None and fresh.current != cached.current else None

    def _may_retry(self, now: float) -> bool:
        return self._failed_at is None or now - self._failed_at >= RETRY_AFTER_FAILURE_S

    def _refresh(self, now: float) -> None:
        try:
            self._versions = self._fetch(now)
            self._failed_at = None
        except SecretUnavailableError as exc:
            self._failed_at = now
            _log.warning("jwt_secret.refresh_failed", extra={"error": str(exc)})

    def _fetch(self, now: float) -> SecretVersions:
        try:
            client = self._client_factory(self._ref.service, self._ref.region)
            if self._ref.service == "secretsmanager":
                current, previous = _from_secrets_manager(client, self._ref.arn)
            else:
                current, previous = _from_ssm(client, self._ref.arn)
        except Exception as exc:  # botocore errors and the like: report the type only
            raise SecretUnavailableError(
                f"could not read the JWT secret from {self._ref.service}: {type(exc).__name__}"
            ) from None
        current = check_secret(current, source=self._ref.service)
        if previous is not None and len(previous) < MIN_SECRET_BYTES:
            previous = None  # an old, too-short key is simply not accepted any more
        return SecretVersions(current, previous, now)


class StaticSecretProvider:
    """The local development secret (JWT_DEV_SECRET, accepted only with DEV_MODE=true)."""

    def __init__(self, value: str) -> None:
        self._value = check_secret(value.encode(), source="JWT_DEV_SECRET")

    def get(self) -> bytes:
        """Return the secret bytes."""
        return self._value


def check_secret(value: bytes, *, source: str) -> bytes:
    """Refuse secrets too short for HS256, whatever their source."""
    if len(value) < MIN_SECRET_BYTES:
        raise SecretUnavailableError(
            f"the JWT secret from {source} is shorter than {MIN_SECRET_BYTES} bytes"
        )
    return value


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return code if isinstance(code, str) else None
    return None


def _secret_bytes(response: Any) -> bytes:
    if "SecretString" in response:
        return str(response["SecretString"]).encode()
    return bytes(response["SecretBinary"])


def _from_secrets_manager(client: SecretsManagerClient, arn: str) -> tuple[bytes, bytes | None]:
    """AWSCURRENT, and AWSPREVIOUS when the secret has been rotated at least once."""
    current = _secret_bytes(client.get_secret_value(SecretId=arn))
    try:
        previous = _secret_bytes(client.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS"))
    except Exception as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        previous = None  # never rotated: there is no previous version
    return current, previous


def _from_ssm(client: SSMClient, arn: str) -> tuple[bytes, bytes | None]:
    """The parameter's value, and the version before it (NAME:VERSION selects a version)."""
    parameter = client.get_parameter(Name=arn, WithDecryption=True)["Parameter"]
    current = parameter.get("Value", "").encode()
    version = int(parameter.get("Version", 1))
    if version <= 1:
        return current, None
    try:
        older = client.get_parameter(Name=f"{arn}:{version - 1}", WithDecryption=True)
    except Exception as exc:
        if _error_code(exc) not in ("ParameterVersionNotFound", "ParameterNotFound"):
            raise
        return current, None  # history trimmed (SSM keeps 100 versions)
    return current, older["Parameter"].get("Value", "").encode()
