"""Signing keys for RS256/ES256 from a JWKS URL, one client per container.

Unknown `kid`s are attacker-controlled, so they must never turn into one HTTP fetch per
request. PyJWKClient caches the key set and, after every successful fetch, refuses to
refetch for an unknown `kid` during `cooldown_s`. It does not cool down after a *failed*
fetch (an outage would cost each request a full timeout), so this wrapper adds that: after
a failure, requests are answered from the cached set (if any) for `cooldown_s`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

if TYPE_CHECKING:
    from collections.abc import Callable

# Well under the authorizer's 5 s Lambda timeout, so a slow endpoint cannot time it out.
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_LIFESPAN_S = 300.0
DEFAULT_COOLDOWN_S = 30.0


class UnknownKeyError(Exception):
    """No key in the (cached or refreshed) key set matches the token's `kid`."""


class JwksUnavailableError(Exception):
    """The key set could not be fetched or parsed: an infrastructure fault, not a bad token."""


class JwksKeyResolver:
    """Resolve a `kid` to a verification key through ONE PyJWKClient."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        lifespan_s: float = DEFAULT_LIFESPAN_S,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = PyJWKClient(
            url,
            cache_jwk_set=True,
            lifespan=lifespan_s,
            timeout=timeout_s,
            cooldown_duration=cooldown_s,
            cache_keys=False,  # its LRU never expires keys; the set cache already serves them
        )
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failed_at: float | None = None

    def key_for(self, kid: str) -> PyJWK:
        """Return the key for `kid`; raise UnknownKeyError or JwksUnavailableError."""
        if self._cooling_down_after_failure():
            return self._cached_key(kid)
        try:
            return self.client.get_signing_key(kid)
        except PyJWKClientConnectionError:
            self._failed_at = self._clock()
            raise JwksUnavailableError("the JWKS endpoint could not be reached") from None
        except PyJWKSetError:
            self._failed_at = self._clock()
            raise JwksUnavailableError("the JWKS endpoint returned no usable keys") from None
        except PyJWKClientError:
            # A usable cached set means the fetch side is fine: the kid is simply unknown.
            if self._cached_set_available():
                raise UnknownKeyError("no key matches the token's kid") from None
            self._failed_at = self._clock()
            raise JwksUnavailableError("the JWKS endpoint returned an invalid key set") from None

    def _cooling_down_after_failure(self) -> bool:
        return self._failed_at is not None and self._clock() - self._failed_at < self._cooldown_s

    def _cached_set_available(self) -> bool:
        cache = self.client.jwk_set_cache
        return cache is not None and cache.get() is not None

    def _cached_key(self, kid: str) -> PyJWK:
        """During a failure cooldown, serve only what is already cached; never fetch."""
        cache = self.client.jwk_set_cache
        jwk_set = cache.get() if cache is not None else None
        if jwk_set is None:
            raise JwksUnavailableError("the JWKS endpoint failed recently; not retrying yet")
        for key in jwk_set.keys:
            if key.key_id == kid and key.public_key_use in ("sig", None):
                return key
        raise UnknownKeyError("no key matches the token's kid")
