"""What every hand-signed AWS request shares: credentials, the SigV4 signing key, dates.

Used by the @connections fast transport and the DynamoDB client, which sign their own
requests instead of going through a botocore client (see docs/PERFORMANCE.md). Importing
this module costs nothing at cold start: botocore and boto3 are only imported when
credentials are first read, and then only what `import boto3` has already loaded.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from wscore.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


CredentialsProvider = Callable[[], Credentials]


def session_credentials() -> CredentialsProvider:
    """Credentials as boto3's default chain finds them; botocore refreshes expiring ones.

    The chain starts with the environment, which is where Lambda puts the function role's
    credentials, so that provider is asked first on its own: building a boto3 session (the
    rest of the chain) adds to the cold start (docs/PERFORMANCE.md), and is only paid when
    the environment has none. Call the result per request or batch: `get_frozen_credentials`
    is cheap, takes a lock and refreshes temporary credentials shortly before they expire.
    """
    from botocore.credentials import EnvProvider

    source = EnvProvider().load()
    if source is None:
        import boto3

        source = boto3.session.Session().get_credentials()
    if source is None:
        raise ConfigError("no AWS credentials found (environment, profile or role)")

    def current() -> Credentials:
        frozen = source.get_frozen_credentials()
        return Credentials(frozen.access_key or "", frozen.secret_key or "", frozen.token)

    return current


class LazyCredentials:
    """A credentials provider resolved on first use, not when a client is built.

    Clients are built at cold start even in functions that never call AWS through them; the
    credential chain is only walked when a request is actually signed.
    """

    def __init__(self, provider: CredentialsProvider | None = None) -> None:
        self._provider = provider

    def __call__(self) -> Credentials:
        if self._provider is None:
            self._provider = session_credentials()
        return self._provider()


class SigningKey:
    """kSigning for one region and service, derived once per day and secret."""

    def __init__(self, region: str, service: str) -> None:
        self.region = region
        self.service = service
        self._key: tuple[str, str, bytes] | None = None  # (secret, datestamp, signing key)

    def scope(self, datestamp: str) -> str:
        return f"{datestamp}/{self.region}/{self.service}/aws4_request"

    def __call__(self, secret: str, datestamp: str) -> bytes:
        cached = self._key
        if cached is not None and cached[0] == secret and cached[1] == datestamp:
            return cached[2]
        key = f"AWS4{secret}".encode()
        for part in (datestamp, self.region, self.service, "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        self._key = (secret, datestamp, key)
        return key


def amz_date(now: float) -> str:
    """X-Amz-Date for a Unix time: 20261128T073000Z."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
