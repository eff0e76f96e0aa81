"""TokenVerifier: every rejection of SECURITY.md ("JWT on $connect"), in all three modes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from wscore.auth.jwks import JwksKeyResolver
from wscore.auth.secrets import StaticSecretProvider
from wscore.auth.settings import AuthSettings
from wscore.auth.verify import (
    MAX_TOKEN_BYTES,
    AuthRejectedError,
    AuthUnavailableError,
    JwksKeyProvider,
    SecretKeyProvider,
    TokenVerifier,
)
from wscore.events import Identity
from wscore.limits import Limit

ISS = "https://issuer.example"
AUD = "ws-api"
SECRET = "an-hs256-test-secret-that-is-long-enough-0123456789"
JWKS_URL = "https://idp.example/.well-known/jwks.json"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims; an override of None removes the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "tenant_id": "acme",
        "iss": ISS,
        "aud": AUD,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A hand-built compact JWS (for tokens PyJWT refuses to produce)."""
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    return hmac_raw(header, json.dumps(payload).encode(), key)


def hmac_raw(header: dict[str, Any], payload: bytes, key: bytes) -> str:
    """HS256 over arbitrary payload bytes, so signature checks pass and parsing is tested."""
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(payload)).encode()
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return signing_input.decode() + "." + b64(signature)


@dataclass
class Keys:
    """Everything a case may sign with; `other_*` keys are not in the JWKS."""

    rsa_private: rsa.RSAPrivateKey
    ec_private: ec.EllipticCurvePrivateKey
    other_rsa: rsa.RSAPrivateKey

    @property
    def rsa_public_pem(self) -> bytes:
        return self.rsa_private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def rs(self, payload: dict[str, Any], kid: str | None = "rsa-1", **headers: Any) -> str:
        hdr = {"kid": kid, **headers} if kid else headers
        return jwt.encode(payload, self.rsa_private, algorithm="RS256", headers=hdr)

    def es(self, payload: dict[str, Any], kid: str | None = "ec-1", **headers: Any) -> str:
        hdr = {"kid": kid, **headers} if kid else headers
        return jwt.encode(payload, self.ec_private, algorithm="ES256", headers=hdr)

    def hs(self, payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
        return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


@pytest.fixture(scope="module")
def other_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def keys(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey, other_rsa: rsa.RSAPrivateKey
) -> Keys:
    return Keys(rsa_key, ec_key, other_rsa)


def jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algo = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    data: dict[str, Any] = algo.to_jwk(public_key, as_dict=True)
    return {**data, "kid": kid, "use": "sig", "alg": alg}


def make_settings(algorithm: str, **overrides: Any) -> AuthSettings:
    base: dict[str, Any] = {"algorithm": algorithm, "issuer": ISS, "audience": AUD}
    if algorithm == "HS256":
        base.update(dev_secret=SECRET, dev_mode=True)
    else:
        base.update(jwks_url=JWKS_URL)
    base.update(overrides)
    return AuthSettings(**base)


@pytest.fixture
def verifier_for(fake_jwks: Any, keys: Keys) -> Callable[..., TokenVerifier]:
    """Build a verifier for a mode; the fake JWKS serves the RSA key and the EC key."""
    fake_jwks.keys = [
        jwk(keys.rsa_private.public_key(), "rsa-1", "RS256"),
        jwk(keys.ec_private.public_key(), "ec-1", "ES256"),
    ]

    def build(algorithm: str, **overrides: Any) -> TokenVerifier:
        s = make_settings(algorithm, **overrides)
        if algorithm == "HS256":
            return TokenVerifier(s, SecretKeyProvider(StaticSecretProvider(SECRET)))
        return TokenVerifier(s, JwksKeyProvider(JwksKeyResolver(JWKS_URL)))

    return build


# --------------------------------------------------------------------------- accepted


def test_hs256_valid_token_gives_identity(verifier_for: Callable[..., TokenVerifier]) -> None:
    exp = int(time.time()) + 600
    token = jwt.encode(
        claims(exp=exp, rooms=["lobby", "team-*", "lobby"], roles=["admin", "dev"]),
        SECRET,
        algorithm="HS256",
    )
    identity = verifier_for("HS256").verify(token)
    assert identity == Identity("alice", "acme", exp, ("admin", "dev"), ("lobby", "team-*"))
    assert identity.principal_id == "acme/alice"
    assert identity.to_context() == {
        "userId": "alice",
        "tenantId": "acme",
        "tokenExp": str(exp),
        "roles": "admin,dev",
        "rooms": "lobby,team-*",
    }


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_asymmetric_valid_token_gives_identity(
    alg: str, keys: Keys, verifier_for: Callable[..., TokenVerifier]
) -> None:
    token = keys.rs(claims()) if alg == "RS256" else keys.es(claims())
    identity = verifier_for(alg).verify(token)
    assert (identity.user_id, identity.tenant_id, identity.rooms) == ("alice", "acme", ())


def test_custom_claim_names(verifier_for: Callable[..., TokenVerifier]) -> None:
    token = jwt.encode(
        claims(sub="ignored", tenant_id=None, email="bob@example.com", org="globex", grp=["x"]),
        SECRET,
        algorithm="HS256",
    )
    verifier = verifier_for("HS256", user_claim="email", tenant_claim="org", rooms_claim="grp")
    identity = verifier.verify(token)
    assert (identity.user_id, identity.tenant_id, identity.rooms) == (
        "bob@example.com",
        "globex",
        ("x",),
    )


def test_rate_limit_claim_reaches_the_context(verifier_for: Callable[..., TokenVerifier]) -> None:
    """The tenant's own sendMessage limit: trusted because the issuer signed it."""
    token = jwt.encode(claims(rate_limit={"perSecond": 2.5, "burst": 7}), SECRET, "HS256")
    identity = verifier_for("HS256").verify(token)
    assert identity.rate_limit == Limit(2.5, 7)
    assert identity.to_context()["rateLimit"] == '{"perSecond":2.5,"burst":7}'
    assert Identity.from_authorizer(identity.to_context()) == identity
    plain = verifier_for("HS256").verify(jwt.encode(claims(), SECRET, "HS256"))
    assert plain.rate_limit is None and "rateLimit" not in plain.to_context()


def test_rate_limit_claim_name_is_configurable(verifier_for: Callable[..., TokenVerifier]) -> None:
    limit = {"perSecond": 0, "burst": 1}  # 0: this tenant is not limited
    token = jwt.encode(claims(rate_limit={"perSecond": 1, "burst": 1}, ws_rate=limit), SECRET)
    identity = verifier_for("HS256", rate_limit_claim="ws_rate").verify(token)
    assert identity.rate_limit == Limit(0, 1)


def test_clock_skew_within_leeway_is_accepted(verifier_for: Callable[..., TokenVerifier]) -> None:
    """An issuer clock ahead of ours: iat and nbf in our future, within the leeway."""
    now = int(time.time())
    token = jwt.encode(claims(iat=now + 20, nbf=now + 20, exp=now + 600), SECRET, "HS256")
    assert verifier_for("HS256", leeway_seconds=30).verify(token).user_id == "alice"


def test_no_leeway_on_expiry(verifier_for: Callable[..., TokenVerifier]) -> None:
    """$connect refuses tokenExp <= now; the authorizer must not let such a token in."""
    now = int(time.time())
    token = jwt.encode(claims(iat=now - 60, exp=now - 1), SECRET, "HS256")
    with pytest.raises(AuthRejectedError, match=r"^expired$"):
        verifier_for("HS256", leeway_seconds=60).verify(token)


def test_audience_list_containing_ours_is_accepted(
    verifier_for: Callable[..., TokenVerifier],
) -> None:
    token = jwt.encode(claims(aud=["other", AUD]), SECRET, "HS256")
    assert verifier_for("HS256").verify(token).tenant_id == "acme"


def test_maximal_identity_fits_the_8_kb_authorizer_limit(
    verifier_for: Callable[..., TokenVerifier],
) -> None:
    rooms = [f"{i:02d}" + "r" * 126 for i in range(32)]
    roles = [f"{i:02d}" + "r" * 62 for i in range(16)]
    token = jwt.encode(
        claims(sub="u" * 128, tenant_id="t" * 128, rooms=rooms, roles=roles), SECRET, "HS256"
    )
    context = verifier_for("HS256").verify(token).to_context()
    assert len(json.dumps(context).encode()) < 6 * 1024
    assert all(isinstance(v, str) for v in context.values())


# --------------------------------------------------------------------------- rejected


def _now() -> int:
    return int(time.time())


Case = Callable[[Keys], str]


def _rate_limit_case(value: Any) -> Case:
    return lambda k: k.hs(claims() | {"rate_limit": value})


# (mode, case id, token builder, reason)
REJECTIONS: list[tuple[str, str, Case, str]] = [
    # algorithm confusion and alg none
    (
        "RS256",
        "alg none",
        lambda k: unsigned({"alg": "none", "kid": "rsa-1"}, claims()),
        "alg_not_allowed",
    ),
    ("HS256", "alg none", lambda k: unsigned({"alg": "none"}, claims()), "alg_not_allowed"),
    (
        "RS256",
        "alg None",
        lambda k: unsigned({"alg": "None", "kid": "rsa-1"}, claims()),
        "alg_not_allowed",
    ),
    ("HS256", "no alg", lambda k: unsigned({"typ": "JWT"}, claims(), b"x"), "alg_not_allowed"),
    (
        "RS256",
        "HS256 signed with the RSA public key (key confusion)",
        lambda k: hmac_signed({"alg": "HS256", "kid": "rsa-1"}, claims(), k.rsa_public_pem),
        "alg_not_allowed",
    ),
    ("RS256", "HS256 token", lambda k: k.hs(claims(), kid="rsa-1"), "alg_not_allowed"),
    ("ES256", "HS256 token", lambda k: k.hs(claims(), kid="ec-1"), "alg_not_allowed"),
    ("HS256", "RS256 token", lambda k: k.rs(claims()), "alg_not_allowed"),
    ("HS256", "ES256 token", lambda k: k.es(claims()), "alg_not_allowed"),
    ("RS256", "ES256 token", lambda k: k.es(claims()), "alg_not_allowed"),
    ("ES256", "RS256 token", lambda k: k.rs(claims()), "alg_not_allowed"),
    (
        "ES256",
        "ES256 header naming an RSA key",
        lambda k: k.es(claims(), kid="rsa-1"),
        "alg_not_allowed",
    ),
    # keys
    ("RS256", "unknown kid", lambda k: k.rs(claims(), kid="rotated-away"), "unknown_kid"),
    ("ES256", "unknown kid", lambda k: k.es(claims(), kid="nope"), "unknown_kid"),
    ("RS256", "no kid", lambda k: k.rs(claims(), kid=None), "unknown_kid"),
    (
        "RS256",
        "non-string kid",
        lambda k: unsigned({"alg": "RS256", "kid": 7}, claims(), b"s"),
        "unknown_kid",
    ),
    (
        "RS256",
        "signed by a key outside the JWKS",
        lambda k: jwt.encode(claims(), k.other_rsa, "RS256", headers={"kid": "rsa-1"}),
        "invalid_signature",
    ),
    ("HS256", "wrong secret", lambda k: k.hs(claims(), secret="x" * 48), "invalid_signature"),
    (
        "HS256",
        "tampered payload",
        lambda k: ".".join(
            [
                k.hs(claims()).split(".")[0],
                b64(json.dumps(claims(tenant_id="globex")).encode()),
                k.hs(claims()).split(".")[2],
            ]
        ),
        "invalid_signature",
    ),
    # time
    ("HS256", "expired", lambda k: k.hs(claims(exp=_now() - 120)), "expired"),
    ("RS256", "expired", lambda k: k.rs(claims(exp=_now() - 120)), "expired"),
    ("HS256", "future nbf", lambda k: k.hs(claims(nbf=_now() + 300)), "not_yet_valid"),
    ("HS256", "future iat", lambda k: k.hs(claims(iat=_now() + 300)), "not_yet_valid"),
    ("ES256", "future iat", lambda k: k.es(claims(iat=_now() + 300)), "not_yet_valid"),
    ("HS256", "string exp", lambda k: k.hs(claims(exp=str(_now() + 600))), "invalid_claim"),
    ("HS256", "non-numeric iat", lambda k: k.hs(claims(iat="yesterday")), "invalid_claim"),
    ("HS256", "exp 1e300", lambda k: k.hs(claims(exp=1e300)), "invalid_claim"),
    ("RS256", "exp 2**70", lambda k: k.rs(claims(exp=2**70)), "invalid_claim"),
    ("HS256", "exp past year 9999", lambda k: k.hs(claims(exp=253402300800)), "invalid_claim"),
    ("HS256", "iat -1e300", lambda k: k.hs(claims(iat=-1e300)), "invalid_claim"),
    ("HS256", "negative nbf", lambda k: k.hs(claims(nbf=-5)), "invalid_claim"),
    ("HS256", "NaN exp", lambda k: k.hs(claims(exp=float("nan"))), "invalid_claim"),
    # issuer and audience
    ("HS256", "wrong aud", lambda k: k.hs(claims(aud="other-api")), "invalid_audience"),
    ("RS256", "wrong aud", lambda k: k.rs(claims(aud=["a", "b"])), "invalid_audience"),
    (
        "HS256",
        "iss prefix attack",
        lambda k: k.hs(claims(iss=ISS + ".evil.example")),
        "invalid_issuer",
    ),
    ("HS256", "iss with a path suffix", lambda k: k.hs(claims(iss=ISS + "/x")), "invalid_issuer"),
    ("HS256", "iss prefix only", lambda k: k.hs(claims(iss=ISS[:-1])), "invalid_issuer"),
    # required claims
    ("HS256", "missing tenant", lambda k: k.hs(claims(tenant_id=None)), "missing_claim"),
    ("HS256", "missing sub", lambda k: k.hs(claims(sub=None)), "missing_claim"),
    ("HS256", "missing exp", lambda k: k.hs(claims(exp=None)), "missing_claim"),
    ("RS256", "missing iat", lambda k: k.rs(claims(iat=None)), "missing_claim"),
    ("HS256", "missing iss", lambda k: k.hs(claims(iss=None)), "missing_claim"),
    ("HS256", "missing aud", lambda k: k.hs(claims(aud=None)), "missing_claim"),
    # header extensions
    (
        "HS256",
        "unknown crit",
        lambda k: jwt.encode(
            claims(), SECRET, "HS256", headers={"crit": ["urn:example:ext"], "urn:example:ext": 1}
        ),
        "crit_not_supported",
    ),
    ("RS256", "crit b64", lambda k: k.rs(claims(), crit=["b64"], b64=True), "crit_not_supported"),
    # garbage
    ("HS256", "empty", lambda k: "", "missing_token"),
    ("HS256", "garbage", lambda k: "this is not a token", "malformed"),
    ("HS256", "two segments", lambda k: "eyJhbGciOiJIUzI1NiJ9.e30", "malformed"),
    ("HS256", "four segments", lambda k: k.hs(claims()) + ".x", "malformed"),
    ("RS256", "header not base64 JSON", lambda k: "abc.def.ghi", "malformed"),
    ("HS256", "header a JSON list", lambda k: b64(b"[1]") + ".e30.x", "malformed"),
    (
        "HS256",
        "payload not JSON",
        lambda k: hmac_raw({"alg": "HS256"}, b"nope", SECRET.encode()),
        "malformed",
    ),
    ("HS256", "non-ASCII", lambda k: "é" + k.hs(claims()), "malformed"),
    (
        "HS256",
        "oversized",
        lambda k: k.hs(claims(pad="x" * MAX_TOKEN_BYTES)),
        "token_too_large",
    ),
    # identity values
    ("HS256", "integer sub", lambda k: k.hs(claims(sub=123)), "invalid_subject"),
    ("HS256", "empty sub", lambda k: k.hs(claims(sub="")), "invalid_user"),
    ("HS256", "sub with #", lambda k: k.hs(claims(sub="a#b")), "invalid_user"),
    ("HS256", "sub with /", lambda k: k.hs(claims(sub="a/b")), "invalid_user"),
    ("HS256", "sub with space", lambda k: k.hs(claims(sub="a b")), "invalid_user"),
    ("HS256", "sub too long", lambda k: k.hs(claims(sub="u" * 129)), "invalid_user"),
    ("HS256", "integer tenant", lambda k: k.hs(claims(tenant_id=42)), "invalid_tenant"),
    ("HS256", "list tenant", lambda k: k.hs(claims(tenant_id=["acme"])), "invalid_tenant"),
    ("HS256", "empty tenant", lambda k: k.hs(claims(tenant_id="")), "invalid_tenant"),
    ("HS256", "tenant with #", lambda k: k.hs(claims(tenant_id="ac#me")), "invalid_tenant"),
    ("HS256", "tenant too long", lambda k: k.hs(claims(tenant_id="t" * 129)), "invalid_tenant"),
    ("HS256", "tenant non-ASCII", lambda k: k.hs(claims(tenant_id="acmé")), "invalid_tenant"),
    # rooms and roles
    ("HS256", "rooms a string", lambda k: k.hs(claims(rooms="lobby")), "invalid_rooms"),
    ("HS256", "rooms an object", lambda k: k.hs(claims(rooms={"a": 1})), "invalid_rooms"),
    (
        "HS256",
        "rooms an empty list (would mean any room)",
        lambda k: k.hs(claims(rooms=[])),
        "invalid_rooms",
    ),
    (
        "HS256",
        "rooms null (would mean any room)",
        lambda k: k.hs(claims(rooms=None) | {"rooms": None}),
        "invalid_rooms",
    ),
    ("HS256", "rooms with a number", lambda k: k.hs(claims(rooms=["a", 1])), "invalid_rooms"),
    ("HS256", "rooms with an empty", lambda k: k.hs(claims(rooms=[""])), "invalid_rooms"),
    ("HS256", "rooms with a space", lambda k: k.hs(claims(rooms=["a b"])), "invalid_rooms"),
    ("HS256", "rooms with #", lambda k: k.hs(claims(rooms=["a#b"])), "invalid_rooms"),
    ("HS256", "rooms with a comma", lambda k: k.hs(claims(rooms=["a,b"])), "invalid_rooms"),
    ("HS256", "room too long", lambda k: k.hs(claims(rooms=["r" * 129])), "invalid_rooms"),
    (
        "HS256",
        "too many rooms",
        lambda k: k.hs(claims(rooms=[f"r{i}" for i in range(33)])),
        "invalid_rooms",
    ),
    # the tenant's rate limit (a signed claim is trusted, but must be well formed)
    *(
        ("HS256", f"rate_limit {value!r}", _rate_limit_case(value), "invalid_rate_limit")
        for value in (
            None,
            "10/s",
            [10, 20],
            {"perSecond": 10},
            {"perSecond": 10, "burst": 20, "extra": 1},
            {"perSecond": -1, "burst": 20},
            {"perSecond": 1001, "burst": 20},
            {"perSecond": "10", "burst": 20},
            {"perSecond": True, "burst": 20},
            {"perSecond": 10, "burst": 0},
            {"perSecond": 10, "burst": 2.5},
            {"perSecond": 10, "burst": 100_001},
        )
    ),
    ("HS256", "roles a string", lambda k: k.hs(claims(roles="admin")), "invalid_roles"),
    ("HS256", "role with a comma", lambda k: k.hs(claims(roles=["a,b"])), "invalid_roles"),
]


@pytest.mark.parametrize(
    ("mode", "builder", "reason"),
    [
        pytest.param(mode, builder, reason, id=f"{mode}-{name}")
        for mode, name, builder, reason in REJECTIONS
    ],
)
def test_rejections(
    mode: str,
    builder: Case,
    reason: str,
    keys: Keys,
    verifier_for: Callable[..., TokenVerifier],
) -> None:
    token = builder(keys)
    with pytest.raises(AuthRejectedError) as caught:
        verifier_for(mode).verify(token)
    assert caught.value.reason == reason
    assert str(caught.value) == reason  # the message is the code, nothing from the token


def test_none_token_is_missing(verifier_for: Callable[..., TokenVerifier]) -> None:
    with pytest.raises(AuthRejectedError, match="missing_token"):
        verifier_for("HS256").verify(None)


def test_oversized_token_is_refused_before_any_decoding(
    monkeypatch: pytest.MonkeyPatch, verifier_for: Callable[..., TokenVerifier]
) -> None:
    verifier = verifier_for("HS256")

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded an oversized token")

    monkeypatch.setattr(jwt, "decode", must_not_run)
    monkeypatch.setattr(base64, "urlsafe_b64decode", must_not_run)
    with pytest.raises(AuthRejectedError, match="token_too_large"):
        verifier.verify("a" * (MAX_TOKEN_BYTES + 1))


def test_wrong_algorithm_never_reaches_the_jwks(
    fake_jwks: Any, keys: Keys, verifier_for: Callable[..., TokenVerifier]
) -> None:
    verifier = verifier_for("RS256")
    for token in (keys.hs(claims(), kid="x"), unsigned({"alg": "none", "kid": "y"}, claims())):
        with pytest.raises(AuthRejectedError):
            verifier.verify(token)
    assert fake_jwks.fetches == 0


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(st.from_regex(r"[A-Za-z0-9_-]{0,40}", fullmatch=True), min_size=3, max_size=3).map(
            ".".join
        ),
    )
)
def test_fuzzed_tokens_are_only_ever_rejected(token: str) -> None:
    verifier = TokenVerifier(
        make_settings("HS256"), SecretKeyProvider(StaticSecretProvider(SECRET))
    )
    with pytest.raises(AuthRejectedError):
        verifier.verify(token)


def test_decode_refuses_key_confusion_even_without_the_header_precheck(
    keys: Keys, verifier_for: Callable[..., TokenVerifier]
) -> None:
    """Defence in depth: jwt.decode's single-algorithm allowlist catches it on its own."""
    verifier = verifier_for("RS256")
    token = hmac_signed({"alg": "HS256", "kid": "rsa-1"}, claims(), keys.rsa_public_pem)
    for key in (JwksKeyResolver(JWKS_URL).key_for("rsa-1"), keys.rsa_public_pem):
        with pytest.raises(AuthRejectedError, match="alg_not_allowed"):
            verifier._decode(token, key)


def test_jwks_outage_is_unavailable_not_rejected(
    fake_jwks: Any, keys: Keys, verifier_for: Callable[..., TokenVerifier]
) -> None:
    verifier = verifier_for("RS256")
    fake_jwks.fail = True
    with pytest.raises(AuthUnavailableError, match="jwks_unavailable"):
        verifier.verify(keys.rs(claims()))


class _FixedKey:
    """A KeyProvider serving one JWK, for fuzzing without fixtures."""

    def __init__(self, key: jwt.PyJWK) -> None:
        self.key = key

    def key_for(self, header: Any) -> jwt.PyJWK:
        return self.key


_FUZZ_KEYS = {
    "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": ec.generate_private_key(ec.SECP256R1()),
}


@settings(max_examples=150, deadline=None)
@given(alg=st.sampled_from(["RS256", "ES256"]), signature=st.binary(max_size=600))
def test_fuzzed_signatures_are_rejected_as_invalid(alg: str, signature: bytes) -> None:
    private = _FUZZ_KEYS[alg]
    verifier = TokenVerifier(
        make_settings(alg), _FixedKey(jwt.PyJWK(jwk(private.public_key(), "k", alg)))
    )
    token = unsigned({"alg": alg, "kid": "k"}, claims(), signature)
    with pytest.raises(AuthRejectedError, match="invalid_signature"):
        verifier.verify(token)
