"""HS256 secret retrieval from Secrets Manager and SSM (moto): cached for a bounded time,
with the previous version accepted during a rotation."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3
import jwt
import pytest
from moto import mock_aws

import authorizer
from wscore.auth import secrets as jwt_secret
from wscore.auth.secrets import SecretProvider, SecretRef, SecretUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REGION = "eu-west-1"
SECRET = "a-production-like-hs256-secret-0123456789abcdef"
ISSUER = "https://auth.example.com/"
AUDIENCE = "ws-prod"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and moto: nothing here can reach AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count clients created and AWS API calls made by the real (lazy boto3) factory."""
    calls: Counter[str] = Counter()
    real_factory = jwt_secret.default_client_factory

    def counting_factory(service: str, region: str) -> Any:
        calls[f"client:{service}:{region}"] += 1
        client = real_factory(service, region)

        def count(model: Any, **_: Any) -> None:
            calls[model.name] += 1

        client.meta.events.register("before-call.*.*", count)
        return client

    monkeypatch.setattr(jwt_secret, "default_client_factory", counting_factory)
    return calls


def put_ssm(value: str = SECRET, name: str = "/ws/jwt") -> str:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    return ssm.get_parameter(Name=name)["Parameter"]["ARN"]


def put_secret(**value: Any) -> str:
    sm = boto3.client("secretsmanager", region_name=REGION)
    return sm.create_secret(Name="ws/jwt", **value)["ARN"]


def provider(arn: str) -> SecretProvider:
    return SecretProvider(SecretRef.parse(arn))


def test_secrets_manager_string_is_fetched_once(aws: None, api_calls: Counter[str]) -> None:
    p = provider(put_secret(SecretString=SECRET))
    assert p.get() == SECRET.encode()
    assert p.get() == SECRET.encode()
    # AWSCURRENT, and the AWSPREVIOUS attempt (none yet: never rotated)
    assert api_calls == {"client:secretsmanager:eu-west-1": 1, "GetSecretValue": 2}
    assert p.versions().previous is None


def test_secrets_manager_binary(aws: None, api_calls: Counter[str]) -> None:
    raw = bytes(range(48))
    assert provider(put_secret(SecretBinary=raw)).get() == raw


def test_ssm_secure_string_is_decrypted_and_fetched_once(
    aws: None, api_calls: Counter[str]
) -> None:
    p = provider(put_ssm())
    assert p.get() == SECRET.encode()  # the plaintext: WithDecryption=True was sent
    assert p.get() == SECRET.encode()
    assert api_calls == {"client:ssm:eu-west-1": 1, "GetParameter": 1}


def test_client_region_comes_from_the_arn(aws: None, api_calls: Counter[str]) -> None:
    ssm = boto3.client("ssm", region_name="us-east-2")
    ssm.put_parameter(Name="/x/jwt", Value=SECRET, Type="SecureString")
    arn = ssm.get_parameter(Name="/x/jwt")["Parameter"]["ARN"]
    assert provider(arn).get() == SECRET.encode()
    assert api_calls["client:ssm:us-east-2"] == 1


def test_missing_secret_is_unavailable_and_not_cached(aws: None, api_calls: Counter[str]) -> None:
    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/ws/jwt"
    p = provider(arn)
    with pytest.raises(SecretUnavailableError, match="ParameterNotFound"):
        p.get()
    put_ssm()
    assert p.get() == SECRET.encode()  # a failure is retried on the next invocation
    assert api_calls["GetParameter"] == 2


def test_short_secret_is_refused(aws: None, api_calls: Counter[str]) -> None:
    with pytest.raises(SecretUnavailableError, match="shorter than 32 bytes"):
        provider(put_ssm("too-short")).get()


def _token(secret: str = SECRET, **over: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "alice",
        "tenant_id": "acme",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        **over,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _event(token: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/$connect",
        "queryStringParameters": {"token": token},
        "headers": {"Origin": "https://app.example.com"},
        "requestContext": {"connectionId": "c1", "routeKey": "$connect", "requestId": "r1"},
    }


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Configure a production-like authorizer container for one ARN."""

    def configure(arn: str) -> None:
        for name in ("DEV_MODE", "JWT_DEV_SECRET", "JWT_JWKS_URL", "ALLOWED_ORIGINS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("JWT_ALGORITHM", "HS256")
        monkeypatch.setenv("JWT_SECRET_ARN", arn)
        monkeypatch.setenv("JWT_ISSUER", ISSUER)
        monkeypatch.setenv("JWT_AUDIENCE", AUDIENCE)
        authorizer.reset()

    yield configure
    authorizer.reset()


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_handler_reads_the_store_once_across_invocations(
    aws: None, api_calls: Counter[str], container: Callable[[str], None], store: str
) -> None:
    arn = put_ssm() if store == "ssm" else put_secret(SecretString=SECRET)
    container(arn)
    for user in ("alice", "bob", "carol"):
        response = authorizer.handler(_event(_token(sub=user)), None)
        assert response["context"]["userId"] == user
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(_event(_token(secret="x" * 48)), None)
    api = "GetParameter" if store == "ssm" else "GetSecretValue"
    # One read per container (Secrets Manager: current + previous stage); the forged token
    # came within MIN_REFRESH_S of it, so it caused no fetch.
    assert api_calls[api] == (1 if store == "ssm" else 2)
    assert sum(v for k, v in api_calls.items() if k.startswith("client:")) == 1


# --------------------------------------------------------------------------- rotation


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


NEW_SECRET = "the-rotated-hs256-secret-0123456789abcdef-XYZ"


def _rotate(arn: str, store: str, value: str = NEW_SECRET) -> None:
    if store == "ssm":
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/ws/jwt", Value=value, Type="SecureString", Overwrite=True
        )
    else:
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=arn, SecretString=value
        )


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_the_cache_has_a_bounded_age(aws: None, store: str) -> None:
    arn = put_ssm() if store == "ssm" else put_secret(SecretString=SECRET)
    clock = FakeClock()
    p = SecretProvider(SecretRef.parse(arn), max_age_s=300, clock=clock)
    assert p.get() == SECRET.encode()
    _rotate(arn, store)
    clock.now += 299
    assert p.get() == SECRET.encode()  # still fresh enough
    clock.now += 1
    assert p.versions().current == NEW_SECRET.encode()
    assert p.versions().previous == SECRET.encode()  # AWSPREVIOUS / version N-1


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_tokens_of_both_versions_verify_during_a_rotation(
    aws: None, container: Callable[[str], None], store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm container keeps working through a rotation: old tokens (previous version)
    and new ones (a rate-limited fresh read on an unknown signature) are both accepted."""
    arn = put_ssm() if store == "ssm" else put_secret(SecretString=SECRET)
    clock = FakeClock()
    monkeypatch.setattr(jwt_secret, "monotonic", clock)
    container(arn)
    assert authorizer.handler(_event(_token()), None)["context"]["userId"] == "alice"
    _rotate(arn, store)
    clock.now += jwt_secret.MIN_REFRESH_S
    new = authorizer.handler(_event(_token(secret=NEW_SECRET, sub="bob")), None)
    assert new["context"]["userId"] == "bob"
    old = authorizer.handler(_event(_token(sub="carol")), None)
    assert old["context"]["userId"] == "carol"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(_event(_token(secret="y" * 48)), None)


def test_unknown_signatures_cannot_force_a_read_per_request(
    aws: None, api_calls: Counter[str]
) -> None:
    arn = put_secret(SecretString=SECRET)
    clock = FakeClock()
    p = SecretProvider(SecretRef.parse(arn), clock=clock)
    p.get()
    reads = api_calls["GetSecretValue"]
    for _ in range(50):
        assert p.refresh_for_unknown_signature() is None  # within MIN_REFRESH_S: no read
    assert api_calls["GetSecretValue"] == reads
    clock.now += jwt_secret.MIN_REFRESH_S
    assert p.refresh_for_unknown_signature() is None  # read once, nothing changed
    assert p.refresh_for_unknown_signature() is None  # and not again
    assert api_calls["GetSecretValue"] == reads + 2


def test_a_failed_refresh_keeps_the_last_good_secret(aws: None) -> None:
    arn = put_secret(SecretString=SECRET)
    clock = FakeClock()
    p = SecretProvider(SecretRef.parse(arn), max_age_s=60, clock=clock)
    assert p.get() == SECRET.encode()
    boto3.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=arn, ForceDeleteWithoutRecovery=True
    )
    clock.now += 61
    assert p.get() == SECRET.encode()  # the store is down; the key did not change
    clock.now += jwt_secret.RETRY_AFTER_FAILURE_S
    assert p.get() == SECRET.encode()
