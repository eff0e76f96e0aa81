"""The REQUEST authorizer's decision: the event's view, the token check, the IAM policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.auth.jwks import JwksKeyResolver
from wscore.auth.secrets import ClientFactory, SecretProvider, SecretRef, StaticSecretProvider
from wscore.auth.verify import (
    AuthRejectedError,
    JwksKeyProvider,
    KeyProvider,
    SecretKeyProvider,
    TokenVerifier,
)
from wscore.errors import ConfigError

if TYPE_CHECKING:
    from wscore.auth.settings import AuthSettings
    from wscore.events import Identity


@dataclass(frozen=True)
class AuthorizerRequest:
    """Typed view of the API Gateway WebSocket REQUEST authorizer event."""

    method_arn: str
    token: str | None
    token_count: int
    origin: str | None
    origin_count: int
    connection_id: str | None
    request_id: str | None

    def __repr__(self) -> str:  # the token must not reach a log through repr()
        return (
            f"AuthorizerRequest(method_arn={self.method_arn!r}, "
            f"connection_id={self.connection_id!r}, has_token={self.token is not None})"
        )

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AuthorizerRequest:
        """Build the view; headers are matched case-insensitively, as HTTP requires."""
        method_arn = event.get("methodArn")
        if not isinstance(method_arn, str) or not method_arn:
            raise ValueError("authorizer event has no methodArn")
        tokens = _values(event, "queryStringParameters", "multiValueQueryStringParameters", "token")
        origins = _values(event, "headers", "multiValueHeaders", "origin", fold_case=True)
        context = event.get("requestContext")
        context = context if isinstance(context, Mapping) else {}
        return cls(
            method_arn=method_arn,
            token=tokens[0] if len(tokens) == 1 else None,
            token_count=len(tokens),
            origin=origins[0] if len(origins) == 1 else None,
            origin_count=len(origins),
            connection_id=_str_or_none(context.get("connectionId")),
            request_id=_str_or_none(context.get("requestId")),
        )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _values(
    event: Mapping[str, Any], single: str, multi: str, name: str, *, fold_case: bool = False
) -> list[str]:
    """All values of one parameter, from the multi-value map when present (duplicates count)."""

    def pick(source: object) -> list[Any]:
        if not isinstance(source, Mapping):
            return []
        hits: list[Any] = []
        for key, value in source.items():
            if isinstance(key, str) and (key.lower() == name if fold_case else key == name):
                hits.extend(value if isinstance(value, list) else [value])
        return hits

    found = pick(event.get(multi)) or pick(event.get(single))
    return [v for v in found if isinstance(v, str)]


def policy(principal_id: str, effect: str, method_arn: str) -> dict[str, Any]:
    """An IAM policy response for API Gateway, allowing or denying this method ARN only."""
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
    }


@dataclass(frozen=True)
class Decision:
    """The outcome for a request whose token verified: Allow, or Deny with a reason."""

    identity: Identity
    allowed: bool
    reason: str = "ok"

    def response(self, method_arn: str) -> dict[str, Any]:
        """Allow carries the context; Deny (403) carries none."""
        effect = "Allow" if self.allowed else "Deny"
        out = policy(self.identity.principal_id, effect, method_arn)
        if self.allowed:
            out["context"] = self.identity.to_context()
        return out


class Authorizer:
    """Verify the token, then apply policy checks that need a valid identity (Origin)."""

    def __init__(self, settings: AuthSettings, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.verifier = verifier

    @classmethod
    def from_settings(
        cls,
        settings: AuthSettings,
        *,
        client_factory: ClientFactory | None = None,
        jwks_resolver: JwksKeyResolver | None = None,
    ) -> Authorizer:
        """Wire the key source the settings call for (nothing is fetched yet)."""
        keys: KeyProvider
        if settings.algorithm == "HS256":
            source: SecretProvider | StaticSecretProvider
            if settings.dev_secret is not None:
                source = StaticSecretProvider(settings.dev_secret)
            else:
                if settings.secret_arn is None:
                    raise ConfigError("JWT_SECRET_ARN is required for HS256")
                source = SecretProvider(
                    SecretRef.parse(settings.secret_arn),
                    client_factory,
                    max_age_s=settings.secret_cache_seconds,
                )
            keys = SecretKeyProvider(source)
        else:
            if settings.jwks_url is None:
                raise ConfigError(f"JWT_JWKS_URL is required for {settings.algorithm}")
            keys = JwksKeyProvider(jwks_resolver or JwksKeyResolver(settings.jwks_url))
        return cls(settings, TokenVerifier(settings, keys))

    def decide(self, request: AuthorizerRequest) -> Decision:
        """Raise AuthRejectedError (401) or AuthUnavailableError; else Allow or Deny."""
        if request.token_count > 1:
            raise AuthRejectedError("multiple_tokens")
        identity = self.verifier.verify(request.token)
        allowed = self.settings.allowed_origins
        if allowed is not None and (request.origin_count != 1 or request.origin not in allowed):
            return Decision(identity, allowed=False, reason="origin_not_allowed")
        return Decision(identity, allowed=True)
