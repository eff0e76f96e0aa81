"""The HS256 signing secret, read from Secrets Manager or SSM once per container.

The secret never sits in a plain environment variable in AWS (checkov CKV_AWS_45): the
module passes an ARN and this module fetches the value on the first token that needs it,
then keeps it for the life of the container. boto3 is imported only here and only then,
so RS256/ES256 authorizers and warm HS256 invocations never pay for its import (the
cold-start figures are in docs/PERFORMANCE.md).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


class SecretProvider:
    """Fetch the secret once, then serve it from memory for the container's lifetime.

    A failed fetch is not cached: the next invocation tries again.
    """

    def __init__(self, ref: SecretRef, client_factory: ClientFactory | None = None) -> None:
        self._ref = ref
        self._client_factory = client_factory or default_client_factory
        self._value: bytes | None = None
        self._lock = threading.Lock()

    def get(self) -> bytes:
        """Return the secret bytes, fetching them on first use."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._fetch()
        return self._value

    def _fetch(self) -> bytes:
        try:
            client = self._client_factory(self._ref.service, self._ref.region)
            if self._ref.service == "secretsmanager":
                value = _from_secrets_manager(client, self._ref.arn)
            else:
                value = _from_ssm(client, self._ref.arn)
        except Exception as exc:  # botocore errors and the like: report the type only
            raise SecretUnavailableError(
                f"could not read the JWT secret from {self._ref.service}: {type(exc).__name__}"
            ) from None
        return check_secret(value, source=self._ref.service)


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


def _from_secrets_manager(client: SecretsManagerClient, arn: str) -> bytes:
    response = client.get_secret_value(SecretId=arn)
    if "SecretString" in response:
        return response["SecretString"].encode()
    return bytes(response["SecretBinary"])


def _from_ssm(client: SSMClient, arn: str) -> bytes:
    response = client.get_parameter(Name=arn, WithDecryption=True)
    return response["Parameter"].get("Value", "").encode()
