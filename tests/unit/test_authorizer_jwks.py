"""JwksKeyResolver: one PyJWKClient, short timeout, and no fetch storm from unknown kids."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import jwt
import pytest

from tools.manifest import read_manifest
from wscore.auth.jwks import (
    DEFAULT_TIMEOUT_S,
    JwksKeyResolver,
    JwksUnavailableError,
    UnknownKeyError,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

URL = "https://idp.example/.well-known/jwks.json"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    data: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**data, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Drive both PyJWKClient (time.monotonic) and the resolver with the same clock."""
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


def test_timeout_is_short_and_below_the_authorizer_timeout(
    fake_jwks: Any, rsa_key: rsa.RSAPrivateKey
) -> None:
    fake_jwks.keys = [rsa_jwk(rsa_key, "k1")]
    JwksKeyResolver(URL).key_for("k1")
    authorizer_timeout = read_manifest()["functions"]["authorizer"]["timeout_s"]
    assert fake_jwks.timeouts == [DEFAULT_TIMEOUT_S]
    assert authorizer_timeout > DEFAULT_TIMEOUT_S


def test_known_kid_is_fetched_once_then_cached(fake_jwks: Any, rsa_key: rsa.RSAPrivateKey) -> None:
    fake_jwks.keys = [rsa_jwk(rsa_key, "k1")]
    resolver = JwksKeyResolver(URL)
    for _ in range(20):
        assert resolver.key_for("k1").key_id == "k1"
    assert fake_jwks.fetches == 1


def test_flood_of_unknown_kids_costs_at_most_one_fetch_per_cooldown(
    fake_jwks: Any, rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    fake_jwks.keys = [rsa_jwk(rsa_key, "k1")]
    resolver = JwksKeyResolver(URL, cooldown_s=30, clock=clock)
    for i in range(200):
        clock.now += 0.1  # 20 s in all: inside the 30 s cooldown
        with pytest.raises(UnknownKeyError):
            resolver.key_for(f"attacker-{i}")
    assert fake_jwks.fetches == 1
    assert resolver.key_for("k1").key_id == "k1"  # good tokens still verify
    assert fake_jwks.fetches == 1


def test_unknown_kid_refreshes_again_only_after_the_cooldown(
    fake_jwks: Any, rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    fake_jwks.keys = [rsa_jwk(rsa_key, "k1")]
    resolver = JwksKeyResolver(URL, cooldown_s=30, clock=clock)
    resolver.key_for("k1")
    fake_jwks.keys.append(rsa_jwk(rsa_key, "k2"))  # the IdP rotates in a new key
    with pytest.raises(UnknownKeyError):
        resolver.key_for("k2")  # still cooling down: not fetched yet
    assert fake_jwks.fetches == 1
    clock.now += 31
    assert resolver.key_for("k2").key_id == "k2"
    assert fake_jwks.fetches == 2


def test_endpoint_outage_is_not_retried_per_request(
    fake_jwks: Any, rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    fake_jwks.fail = True
    resolver = JwksKeyResolver(URL, cooldown_s=30, clock=clock)
    for _ in range(50):
        with pytest.raises(JwksUnavailableError):
            resolver.key_for("k1")
    assert fake_jwks.fetches == 1
    fake_jwks.fail = False
    fake_jwks.keys = [rsa_jwk(rsa_key, "k1")]
    clock.now += 31
    assert resolver.key_for("k1").key_id == "k1"
    assert fake_jwks.fetches == 2


def test_outage_during_refresh_keeps_serving_cached_keys(
    fake_jwks: Any, rsa_key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    fake_jwks.keys = [rsa_jwk(rsa_key, "k1")]
    resolver = JwksKeyResolver(URL, cooldown_s=30, lifespan_s=300, clock=clock)
    resolver.key_for("k1")
    clock.now += 60  # past the cooldown, within the cache lifespan
    fake_jwks.fail = True
    with pytest.raises(JwksUnavailableError):
        resolver.key_for("new-kid")  # the forced refresh fails: one attempt
    assert fake_jwks.fetches == 2
    for i in range(20):
        assert resolver.key_for("k1").key_id == "k1"  # cached key still works
        with pytest.raises(UnknownKeyError):
            resolver.key_for(f"other-{i}")
    assert fake_jwks.fetches == 2


@pytest.mark.parametrize("payload", [[], {"keys": []}, {"keys": [{"kty": "nope"}]}])
def test_unusable_key_set_is_unavailable_not_unknown(
    fake_jwks: Any, monkeypatch: pytest.MonkeyPatch, payload: Any
) -> None:
    import io

    monkeypatch.setattr(fake_jwks, "open", lambda *a, **k: io.BytesIO(json.dumps(payload).encode()))
    with pytest.raises(JwksUnavailableError):
        JwksKeyResolver(URL).key_for("k1")
