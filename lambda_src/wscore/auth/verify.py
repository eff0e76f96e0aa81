"""JWT verification for the $connect REQUEST authorizer.

Everything an attacker controls (the token, its header, its claims) is checked here against
the settings (`settings.py`). The rules (docs/ARCHITECTURE.md, "Authentication"): one
algorithm allowlisted, exact issuer and audience, bounded leeway, required claims, no
unknown `crit`, a size cap before any parsing, and identity values that cannot break the
table's keys. The token itself is never logged, echoed in an error or copied into the
authorizer context.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import jwt
from jwt.exceptions import InvalidSubjectError

from wscore.auth.jwks import JwksKeyResolver, JwksUnavailableError, UnknownKeyError
from wscore.auth.secrets import (
    SecretProvider,
    SecretUnavailableError,
    StaticSecretProvider,
)
from wscore.events import Identity
from wscore.limits import Limit, limit_from_json
from wscore.protocol import ID_RE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from wscore.auth.settings import AuthSettings

MAX_TOKEN_BYTES = 8 * 1024
MAX_ID_LENGTH = 128
MAX_ROOM_PATTERNS = 32
MAX_ROLES = 16
MAX_ROLE_LENGTH = 64
MAX_KID_LENGTH = 256
MAX_EPOCH_SECONDS = 253402300799  # 9999-12-31T23:59:59Z

_ROOM_PATTERN = re.compile(rf"[A-Za-z0-9_.:*?-]{{1,{MAX_ID_LENGTH}}}")
_ROLE = re.compile(rf"[A-Za-z0-9_.:@-]{{1,{MAX_ROLE_LENGTH}}}")
# Compact JWS: three base64url segments (the signature may be empty only for alg none).
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


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


class KeyProvider(Protocol):
    """Gives the verification key for a token header (already checked)."""

    def key_for(self, header: Mapping[str, Any]) -> Any: ...


@runtime_checkable
class RotatingKeyProvider(Protocol):
    """A key source with more than one valid key during a rotation."""

    def key_for(self, header: Mapping[str, Any]) -> Any: ...

    def fallback_keys(self, header: Mapping[str, Any]) -> Sequence[Any]:
        """Keys to try when the signature does not match `key_for`'s."""
        ...


class SecretKeyProvider:
    """HS256: the shared secret, whatever the header says; during a rotation, its previous
    version too, and a fresh read when a signature matches neither."""

    def __init__(self, secret: SecretProvider | StaticSecretProvider) -> None:
        self._secret = secret

    def key_for(self, header: Mapping[str, Any]) -> bytes:
        """Return the current secret; a store failure becomes AuthUnavailableError."""
        try:
            return self._secret.get()
        except SecretUnavailableError:
            raise AuthUnavailableError("secret_unavailable") from None

    def fallback_keys(self, header: Mapping[str, Any]) -> Sequence[bytes]:
        """The previous version, then (rate-limited) the versions of a fresh read."""
        if not isinstance(self._secret, SecretProvider):
            return ()
        keys: list[bytes] = []
        previous = self._secret.versions().previous
        if previous is not None:
            keys.append(previous)
        fresh = self._secret.refresh_for_unknown_signature()
        if fresh is not None:
            keys.extend(k for k in (fresh.current, fresh.previous) if k is not None)
        return keys


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


def expired(exp: int, now: float) -> bool:
    """THE expiry rule, the one $connect applies to the stored `tokenExp` too
    (`identity.token_exp <= int(time.time())`): a token is usable while the current whole
    second is before `exp`. No leeway on `exp`: a token the authorizer lets in must not be
    refused by $connect a moment later (clock skew is allowed on `iat` and `nbf` only)."""
    return exp <= int(now)


class TokenVerifier:
    """Verify a token against AuthSettings and turn its claims into an Identity."""

    def __init__(
        self,
        settings: AuthSettings,
        keys: KeyProvider,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._clock = clock

    def verify(self, token: str | None) -> Identity:
        """Return the Identity or raise AuthRejectedError / AuthUnavailableError."""
        if not token:
            raise AuthRejectedError("missing_token")
        if len(token) > MAX_TOKEN_BYTES:  # before any base64/JSON work
            raise AuthRejectedError("token_too_large")
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthRejectedError("malformed")
        header = self._checked_header(token)
        claims = self._decode_with_rotation(token, header)
        now = self._clock() if self._clock is not None else time.time()
        if expired(_epoch(claims.get("exp")), now):
            raise AuthRejectedError("expired")
        return self._identity(claims)

    def _decode_with_rotation(self, token: str, header: Mapping[str, Any]) -> dict[str, Any]:
        """Only a signature mismatch moves on to the next key; any other refusal stands."""
        try:
            return self._decode(token, self._keys.key_for(header))
        except AuthRejectedError as exc:
            if exc.reason != "invalid_signature" or not isinstance(self._keys, RotatingKeyProvider):
                raise
        for key in self._keys.fallback_keys(header):
            try:
                return self._decode(token, key)
            except AuthRejectedError as exc:
                if exc.reason != "invalid_signature":
                    raise
        raise AuthRejectedError("invalid_signature")

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
                # Leeway covers an issuer clock ahead of ours (iat, nbf); `exp` is checked
                # by `expired()` below, without leeway, as $connect checks it.
                leeway=settings.leeway_seconds,
                options={
                    "require": settings.required_claims,
                    "verify_signature": True,
                    "verify_exp": False,
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
        for name in ("iat", "nbf"):
            if name in claims:
                _epoch(claims[name])
        return Identity(
            user_id=_identifier(claims.get(s.user_claim), "invalid_user"),
            tenant_id=_identifier(claims.get(s.tenant_claim), "invalid_tenant"),
            token_exp=_epoch(claims.get("exp")),
            roles=_string_list(claims.get(s.roles_claim), _ROLE, MAX_ROLES, "invalid_roles"),
            rooms=_rooms(claims, s.rooms_claim),
            rate_limit=_rate_limit(claims, s.rate_limit_claim),
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
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise AuthRejectedError(reason)
    return value


def _epoch(value: object) -> int:
    """A time claim as seconds since 1970, within years 1970-9999.

    PyJWT accepts `"123"` (it calls int()) and any magnitude: an `exp` of 1e300 passes its
    checks and would then overflow DynamoDB's number type when $connect stores the token's
    expiry. Such a token is refused here (401) instead of failing later (500).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthRejectedError("invalid_claim")
    if not (0 <= value <= MAX_EPOCH_SECONDS):  # NaN fails this too
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


def _rate_limit(claims: Mapping[str, Any], name: str) -> Limit | None:
    """The tenant's own sendMessage limit: trusted as the issuer signed it, but checked
    like configuration (an absent claim leaves the limit to configuration)."""
    if name not in claims:
        return None
    try:
        return limit_from_json(claims[name])
    except ValueError:
        raise AuthRejectedError("invalid_rate_limit") from None


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
