"""JWT verification for the $connect REQUEST authorizer.

Everything an attacker controls (the token, its header, its claims, the Origin) is checked
here against settings that are parsed once per container. The rules come from
SECURITY.md ("JWT on $connect"): one algorithm allowlisted, exact issuer and audience,
bounded leeway, required claims, no unknown `crit`, a size cap before any parsing, and
identity values that cannot break the table's keys. The token itself is never logged,
echoed in an error or copied into the authorizer context.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

import jwt
from jwt.exceptions import InvalidSubjectError

from wscore.config import env_bool, env_int, env_str
from wscore.errors import ConfigError
from wscore.events import Identity
from wscore.jwks import JwksKeyResolver, JwksUnavailableError, UnknownKeyError
from wscore.jwt_secret import (
    MIN_SECRET_BYTES,
    ClientFactory,
    SecretProvider,
    SecretRef,
    SecretUnavailableError,
    StaticSecretProvider,
)

ALGORITHMS = ("HS256", "RS256", "ES256")
MAX_TOKEN_BYTES = 8 * 1024
MAX_LEEWAY_SECONDS = 60
DEFAULT_LEEWAY_SECONDS = 30
MAX_ID_LENGTH = 128
MAX_ROOM_PATTERNS = 32
MAX_ROLES = 16
MAX_ROLE_LENGTH = 64
MAX_KID_LENGTH = 256

# Ids end up inside `USER#{tenant}#{user}`-style keys and in the `tenant/user` principal:
# `#`, `/`, `,`, whitespace and non-ASCII are refused so they can never split a key.
_ID = re.compile(rf"[A-Za-z0-9._:@|+=~-]{{1,{MAX_ID_LENGTH}}}")
_ROOM_PATTERN = re.compile(rf"[A-Za-z0-9_.:*?-]{{1,{MAX_ID_LENGTH}}}")
_ROLE = re.compile(rf"[A-Za-z0-9_.:@-]{{1,{MAX_ROLE_LENGTH}}}")
# Compact JWS: three base64url segments (the signature may be empty only for alg none).
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")


class AuthRejectedError(Exception):
    """The token is missing or invalid. `reason` is a stable code for logs and metrics.

    The message is the reason code only: it never carries token text or library messages
    (PyJWT's messages can echo attacker-controlled header values such as `kid`).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthUnavailableError(Exception):
    """The key material could not be obtained (secret store or JWKS): a 500, not a 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- settings


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
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS
    allowed_origins: frozenset[str] | None = None

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
            leeway_seconds=env_int(
                env, "JWT_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS, 0, MAX_LEEWAY_SECONDS
            ),
            allowed_origins=_origins(env),
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


# --------------------------------------------------------------------------- event view


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
    route_key: str | None

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
            route_key=_str_or_none(context.get("routeKey")),
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


# --------------------------------------------------------------------------- verification


class KeyProvider(Protocol):
    """Gives the verification key for a token header (already checked)."""

    def key_for(self, header: Mapping[str, Any]) -> Any: ...


class SecretKeyProvider:
    """HS256: the shared secret, whatever the header says."""

    def __init__(self, secret: SecretProvider | StaticSecretProvider) -> None:
        self._secret = secret

    def key_for(self, header: Mapping[str, Any]) -> bytes:
        """Return the secret; a store failure becomes AuthUnavailableError."""
        try:
            return self._secret.get()
        except SecretUnavailableError:
            raise AuthUnavailableError("secret_unavailable") from None


class JwksKeyProvider:
    """RS256/ES256: the JWKS key named by the header's `kid`."""

    def __init__(self, resolver: JwksKeyResolver) -> None:
        self._resolver = resolver

    def key_for(self, header: Mapping[str, Any]) -> jwt.PyJWK:
        """Return the key for the header's kid (validated by the verifier)."""
        try:
            return self._resolver.key_for(str(header["kid"]))
        except UnknownKeyError:
            raise AuthRejectedError("unknown_kid") from None
        except JwksUnavailableError:
            raise AuthUnavailableError("jwks_unavailable") from None


# PyJWT exception -> reason code; the most specific classes first.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "invalid_audience"),
    (jwt.InvalidIssuerError, "invalid_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "invalid_signature"),
    (jwt.InvalidAlgorithmError, "alg_not_allowed"),
    (jwt.InvalidKeyError, "invalid_key"),
    (jwt.InvalidIssuedAtError, "invalid_claim"),
    (InvalidSubjectError, "invalid_subject"),
    (jwt.DecodeError, "malformed"),
    (jwt.PyJWTError, "invalid_token"),
)


def _reason_for(exc: Exception) -> str:
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    return "invalid_token"


class TokenVerifier:
    """Verify a token against AuthSettings and turn its claims into an Identity."""

    def __init__(self, settings: AuthSettings, keys: KeyProvider) -> None:
        self._settings = settings
        self._keys = keys

    def verify(self, token: str | None) -> Identity:
        """Return the Identity or raise AuthRejectedError / AuthUnavailableError."""
        if not token:
            raise AuthRejectedError("missing_token")
        if len(token) > MAX_TOKEN_BYTES:  # before any base64/JSON work
            raise AuthRejectedError("token_too_large")
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthRejectedError("malformed")
        header = self._checked_header(token)
        key = self._keys.key_for(header)
        claims = self._decode(token, key)
        return self._identity(claims)

    def _checked_header(self, token: str) -> dict[str, Any]:
        """Refuse on the unverified header before fetching any key (cheap, no network)."""
        header = _parse_header(token)
        if header.get("alg") != self._settings.algorithm:
            raise AuthRejectedError("alg_not_allowed")
        if "crit" in header:  # we implement no JWS extension, so none may be critical
            raise AuthRejectedError("crit_not_supported")
        if self._settings.algorithm != "HS256":
            kid = header.get("kid")
            if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
                raise AuthRejectedError("unknown_kid")
        return header

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        settings = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[settings.algorithm],
                issuer=settings.issuer,
                audience=settings.audience,
                leeway=settings.leeway_seconds,
                options={
                    "require": settings.required_claims,
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_iss": True,
                    "verify_aud": True,
                    "enforce_minimum_key_length": True,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            reason = _reason_for(exc)
            raise AuthRejectedError(reason) from None
        return claims

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        s = self._settings
        return Identity(
            user_id=_identifier(claims.get(s.user_claim), "invalid_user"),
            tenant_id=_identifier(claims.get(s.tenant_claim), "invalid_tenant"),
            token_exp=_epoch(claims.get("exp")),
            roles=_string_list(claims.get(s.roles_claim), _ROLE, MAX_ROLES, "invalid_roles"),
            rooms=_rooms(claims, s.rooms_claim),
        )


def _parse_header(token: str) -> dict[str, Any]:
    """Decode the JOSE header ourselves, so that every refusal gets its own reason code."""
    segment = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):  # JSON and UTF-8 errors included
        raise AuthRejectedError("malformed") from None
    if not isinstance(header, dict):
        raise AuthRejectedError("malformed")
    return header


def _identifier(value: object, reason: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise AuthRejectedError(reason)
    return value


def _epoch(value: object) -> int:
    """PyJWT accepts `"123"` for exp (it calls int()); the context wants a real number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthRejectedError("invalid_claim")
    return int(value)


def _rooms(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """Room patterns; an absent claim means any room (empty context value).

    Because "" in the context means *any* room, a claim that is present but empty or null
    is refused rather than silently widened to every room.
    """
    if name not in claims:
        return ()
    rooms = _string_list(claims[name], _ROOM_PATTERN, MAX_ROOM_PATTERNS, "invalid_rooms")
    if not rooms:
        raise AuthRejectedError("invalid_rooms")
    return rooms


def _string_list(
    value: object, pattern: re.Pattern[str], max_items: int, reason: str
) -> tuple[str, ...]:
    """An absent claim is empty; anything else must be a list of valid, bounded strings."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > max_items:
        raise AuthRejectedError(reason)
    items: list[str] = []
    for item in value:
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise AuthRejectedError(reason)
        if item not in items:
            items.append(item)
    return tuple(items)


# --------------------------------------------------------------------------- policy


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
                source = SecretProvider(SecretRef.parse(settings.secret_arn), client_factory)
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
