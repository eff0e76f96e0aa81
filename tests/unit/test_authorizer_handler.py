"""The authorizer handler: API Gateway's 401 / 403 / Allow contract, and no token leaks."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest

import authorizer
from tools import devtoken
from wscore.auth.authorizer import Authorizer, AuthorizerRequest
from wscore.auth.settings import AuthSettings
from wscore.auth.verify import MAX_TOKEN_BYTES
from wscore.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptography.hazmat.primitives.asymmetric import rsa

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/dev/$connect"
DEV_ENV = {
    "DEV_MODE": "true",
    "JWT_ALGORITHM": "HS256",
    "JWT_DEV_SECRET": devtoken.DEV_SECRET,
    "JWT_ISSUER": devtoken.DEV_ISSUER,
    "JWT_AUDIENCE": devtoken.DEV_AUDIENCE,
}
AUTH_VARS = (
    "DEV_MODE",
    "JWT_ALGORITHM",
    "JWT_DEV_SECRET",
    "JWT_SECRET_ARN",
    "JWT_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_USER_CLAIM",
    "JWT_TENANT_CLAIM",
    "JWT_ROOMS_CLAIM",
    "JWT_ROLES_CLAIM",
    "JWT_LEEWAY_SECONDS",
    "ALLOWED_ORIGINS",
)


def connect_event(
    token: str | None = None, origin: str | None = "https://app.example"
) -> dict[str, Any]:
    """A $connect REQUEST authorizer event as API Gateway sends it."""
    headers: dict[str, str] = {
        "Host": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "X-Amzn-Trace-Id": "Root=1-65f0c0de-0123456789abcdef01234567",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if origin is not None:
        headers["Origin"] = origin
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "Jx9zYFnwIAMFg8w=",
            "requestTime": "28/Nov/2026:05:00:00 +0000",
            "messageDirection": "IN",
            "stage": "dev",
            "connectedAt": 1795842000000,
            "requestTimeEpoch": 1795842000000,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0"},
            "requestId": "Jx9zYFnwIAMFg8w=",
            "domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
            "connectionId": "Jx9zYcXyIAMCJmw=",
            "apiId": "abcdef1234",
        },
    }
    if token is not None:
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    return event


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean per-test container: dev HS256 settings, a fresh authorizer singleton."""
    for name in AUTH_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in DEV_ENV.items():
        monkeypatch.setenv(name, value)
    authorizer.reset()
    yield monkeypatch
    authorizer.reset()


def call_unauthorized(event: dict[str, Any]) -> Exception:
    with pytest.raises(Exception) as caught:
        authorizer.handler(event, None)
    assert type(caught.value) is Exception
    assert str(caught.value) == "Unauthorized"
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None  # nothing from PyJWT rides along
    return caught.value


# --------------------------------------------------------------------------- event view


def test_request_view_reads_token_origin_and_context() -> None:
    request = AuthorizerRequest.from_event(connect_event("t.o.k"))
    assert (request.method_arn, request.token, request.token_count) == (METHOD_ARN, "t.o.k", 1)
    assert (request.origin, request.origin_count) == ("https://app.example", 1)
    assert (request.connection_id, request.request_id) == ("Jx9zYcXyIAMCJmw=", "Jx9zYFnwIAMFg8w=")
    assert "t.o.k" not in repr(request)


def test_request_view_headers_are_case_insensitive_and_maps_optional() -> None:
    event = {"methodArn": METHOD_ARN, "headers": {"origin": "https://x"}}
    request = AuthorizerRequest.from_event(event)
    assert (request.token, request.token_count, request.origin) == (None, 0, "https://x")
    assert request.connection_id is None


def test_request_view_counts_repeated_parameters() -> None:
    event = connect_event("a.b.c")
    event["multiValueQueryStringParameters"] = {"token": ["a.b.c", "d.e.f"]}
    event["multiValueHeaders"]["Origin"] = ["https://a", "https://b"]
    request = AuthorizerRequest.from_event(event)
    assert (request.token, request.token_count) == (None, 2)
    assert (request.origin, request.origin_count) == (None, 2)


@pytest.mark.parametrize("method_arn", [None, "", 7])
def test_request_view_requires_a_method_arn(method_arn: Any) -> None:
    with pytest.raises(ValueError, match="methodArn"):
        AuthorizerRequest.from_event({"methodArn": method_arn})


# --------------------------------------------------------------------------- allow


def test_valid_dev_token_is_allowed_with_a_flat_string_context(env: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    token = devtoken.mint("alice", "acme", rooms=["lobby", "team-*"], roles=["admin"], now=now)
    response = authorizer.handler(connect_event(token), None)
    assert response["principalId"] == "acme/alice"
    assert response["policyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}],
    }
    assert response["context"] == {
        "userId": "alice",
        "tenantId": "acme",
        "tokenExp": str(now + devtoken.TOKEN_LIFETIME_S),
        "roles": "admin",
        "rooms": "lobby,team-*",
    }
    assert all(isinstance(v, str) for v in response["context"].values())
    assert len(json.dumps(response).encode()) < 8 * 1024


def test_token_without_rooms_claim_gives_empty_rooms(env: pytest.MonkeyPatch) -> None:
    response = authorizer.handler(connect_event(devtoken.mint("bob", "acme")), None)
    assert (response["context"]["rooms"], response["context"]["roles"]) == ("", "")


def test_largest_allowed_response_stays_under_8_kb(env: pytest.MonkeyPatch) -> None:
    rooms = [f"{i:02d}" + "r" * 126 for i in range(32)]
    roles = [f"{i:02d}" + "x" * 62 for i in range(16)]
    token = devtoken.mint("u" * 128, "t" * 128, rooms=rooms, roles=roles)
    response = authorizer.handler(connect_event(token), None)
    assert len(json.dumps(response).encode()) < 8 * 1024
    assert response["context"]["rooms"].count(",") == 31


def test_settings_and_key_source_are_built_once_per_container(env: pytest.MonkeyPatch) -> None:
    authorizer.handler(connect_event(devtoken.mint("a", "t")), None)
    first = authorizer.get_authorizer()
    authorizer.handler(connect_event(devtoken.mint("b", "t")), None)
    assert authorizer.get_authorizer() is first


def test_rs256_container_uses_one_jwks_client(
    env: pytest.MonkeyPatch, fake_jwks: Any, rsa_key: rsa.RSAPrivateKey
) -> None:
    env.setenv("DEV_MODE", "false")
    env.delenv("JWT_DEV_SECRET")
    env.setenv("JWT_ALGORITHM", "RS256")
    env.setenv("JWT_JWKS_URL", "https://idp.example/jwks")
    public = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    fake_jwks.keys = [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]
    now = int(time.time())
    payload = {
        "sub": "carol",
        "tenant_id": "acme",
        "iss": devtoken.DEV_ISSUER,
        "aud": devtoken.DEV_AUDIENCE,
        "iat": now,
        "exp": now + 60,
    }
    token = jwt.encode(payload, rsa_key, "RS256", headers={"kid": "k1"})
    for _ in range(5):
        assert authorizer.handler(connect_event(token), None)["context"]["userId"] == "carol"
    assert fake_jwks.fetches == 1


# --------------------------------------------------------------------------- 401


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(connect_event(None), id="no query string"),
        pytest.param(connect_event(""), id="empty token"),
        pytest.param(connect_event("garbage"), id="garbage"),
        pytest.param({**connect_event("x"), "methodArn": None}, id="no methodArn"),
        pytest.param({**connect_event(None), "queryStringParameters": None}, id="null map"),
    ],
)
def test_missing_or_invalid_token_raises_unauthorized(
    env: pytest.MonkeyPatch, event: dict[str, Any]
) -> None:
    call_unauthorized(event)


def test_expired_dev_token_raises_unauthorized(env: pytest.MonkeyPatch) -> None:
    token = devtoken.mint("alice", "acme", now=int(time.time()) - 7200)
    call_unauthorized(connect_event(token))


def test_repeated_token_parameter_raises_unauthorized(env: pytest.MonkeyPatch) -> None:
    event = connect_event(devtoken.mint("alice", "acme"))
    event["multiValueQueryStringParameters"]["token"].append(devtoken.mint("mallory", "acme"))
    call_unauthorized(event)


def test_dev_token_is_refused_outside_dev_mode(
    env: pytest.MonkeyPatch, wscore_logs: list[str]
) -> None:
    env.setenv("DEV_MODE", "false")
    with pytest.raises(ConfigError, match="JWT_DEV_SECRET"):
        authorizer.handler(connect_event(devtoken.mint("alice", "acme")), None)
    errors = [json.loads(line) for line in wscore_logs if '"authorizer.config_error"' in line]
    assert len(errors) == 1
    assert "JWT_DEV_SECRET" in errors[0]["error"]
    assert devtoken.DEV_SECRET not in errors[0]["error"]


# --------------------------------------------------------------------------- 403


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://evil.example", id="other origin"),
        pytest.param("https://app.example.evil.example", id="prefix"),
        pytest.param("https://app.example/", id="trailing slash"),
        pytest.param("HTTPS://APP.EXAMPLE", id="case"),
        pytest.param(None, id="no origin"),
    ],
)
def test_origin_not_allowed_is_denied(env: pytest.MonkeyPatch, origin: str | None) -> None:
    env.setenv("ALLOWED_ORIGINS", "https://app.example,https://admin.example")
    response = authorizer.handler(connect_event(devtoken.mint("alice", "acme"), origin), None)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert response["policyDocument"]["Statement"][0]["Resource"] == METHOD_ARN
    assert "context" not in response


def test_two_origin_headers_are_denied(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLOWED_ORIGINS", "https://app.example")
    event = connect_event(devtoken.mint("alice", "acme"))
    event["multiValueHeaders"]["Origin"] = ["https://app.example", "https://evil.example"]
    response = authorizer.handler(event, None)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.mark.parametrize("origin", ["https://app.example", "https://admin.example"])
def test_allowed_origin_is_allowed(env: pytest.MonkeyPatch, origin: str) -> None:
    env.setenv("ALLOWED_ORIGINS", "https://app.example, https://admin.example")
    response = authorizer.handler(connect_event(devtoken.mint("alice", "acme"), origin), None)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_invalid_token_with_bad_origin_is_still_401(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLOWED_ORIGINS", "https://app.example")
    call_unauthorized(connect_event("garbage", "https://evil.example"))


# --------------------------------------------------------------------------- 500


def test_key_store_outage_is_an_error_not_a_401(
    env: pytest.MonkeyPatch, wscore_logs: list[str]
) -> None:
    def broken_factory(service: str, region: str) -> Any:
        raise ConnectionError("endpoint unreachable")

    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/ws/jwt"
    settings = AuthSettings(
        algorithm="HS256",
        issuer=devtoken.DEV_ISSUER,
        audience=devtoken.DEV_AUDIENCE,
        secret_arn=arn,
    )
    authorizer._authorizer = Authorizer.from_settings(settings, client_factory=broken_factory)
    with pytest.raises(RuntimeError, match="authorizer unavailable") as caught:
        authorizer.handler(connect_event(devtoken.mint("alice", "acme")), None)
    assert caught.value.__context__ is None
    errors = [json.loads(line) for line in wscore_logs if '"authorizer.unavailable"' in line]
    assert [e["reason"] for e in errors] == ["secret_unavailable"]
    assert errors[0]["level"] == "ERROR"


# --------------------------------------------------------------------------- no token leaks

SENTINEL = "SNTNL9f27c1e0"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def sentinel_tokens(rsa_key: rsa.RSAPrivateKey) -> list[tuple[str, str, dict[str, str]]]:
    """(case, token, extra env) covering success and every failure path of the handler."""
    now = int(time.time())
    dev = devtoken.DEV_SECRET

    def hs(extra: dict[str, Any], **over: Any) -> str:
        claims = {
            "sub": "alice",
            "tenant_id": "acme",
            "iss": devtoken.DEV_ISSUER,
            "aud": devtoken.DEV_AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "note": SENTINEL,
            **extra,
        }
        claims.update(over)
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, dev, "HS256")

    rs256_env = {
        "DEV_MODE": "false",
        "JWT_DEV_SECRET": "",
        "JWT_ALGORITHM": "RS256",
        "JWT_JWKS_URL": "https://idp.example/jwks",
    }
    unknown_kid = jwt.encode(
        {"sub": "a", "tenant_id": "t", "note": SENTINEL},
        rsa_key,
        "RS256",
        headers={"kid": SENTINEL},
    )
    return [
        ("allow", hs({}), {}),
        ("deny origin", hs({}), {"ALLOWED_ORIGINS": "https://other.example"}),
        ("garbage equal to the sentinel", SENTINEL, {}),
        ("three-segment garbage", f"{SENTINEL}.{SENTINEL}.{SENTINEL}", {}),
        ("expired", hs({}, exp=now - 3600, iat=now - 7200), {}),
        ("future iat", hs({}, iat=now + 3600), {}),
        ("future nbf", hs({"nbf": now + 3600}), {}),
        ("wrong audience", hs({}, aud=SENTINEL), {}),
        ("prefix issuer", hs({}, iss=devtoken.DEV_ISSUER + SENTINEL), {}),
        ("missing tenant", hs({}, tenant_id=None), {}),
        ("user with #", hs({}, sub=f"a#{SENTINEL}"), {}),
        ("bad rooms", hs({"rooms": [f"{SENTINEL} room"]}), {}),
        ("bad roles", hs({"roles": [f"{SENTINEL},x"]}), {}),
        ("wrong signature", hs({})[:-6] + "AAAAAA", {}),
        ("alg none", f"{_b64({'alg': 'none', 'kid': SENTINEL})}.{_b64({'n': SENTINEL})}.", {}),
        ("unknown crit", f"{_b64({'alg': 'HS256', 'crit': [SENTINEL]})}.{_b64({})}.x", {}),
        ("oversized", SENTINEL * (MAX_TOKEN_BYTES // len(SENTINEL) + 1), {}),
        ("unknown kid", unknown_kid, rs256_env),
        ("HS256 in RS256 mode", hs({}), rs256_env),
    ]


def test_sentinel_token_never_reaches_logs_responses_or_errors(
    env: pytest.MonkeyPatch,
    fake_jwks: Any,
    rsa_key: rsa.RSAPrivateKey,
    wscore_logs: list[str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    fake_jwks.keys = [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]
    outputs: list[str] = []
    outcomes: set[str] = set()
    cases = sentinel_tokens(rsa_key)
    for case, token, extra_env in cases:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in extra_env.items():
                if value:
                    mp.setenv(name, value)
                else:
                    mp.delenv(name, raising=False)
            authorizer.reset()
            event = connect_event(token)
            original = copy.deepcopy(event)
            try:
                response = authorizer.handler(event, None)
                outputs.append(json.dumps(response))
                outcomes.add(response["policyDocument"]["Statement"][0]["Effect"])
            except Exception as exc:  # the handler's 401: capture all it exposes
                outputs.extend([str(exc), repr(exc), repr(exc.args)])
                outcomes.add(str(exc))
            assert event == original, case
    assert outcomes == {"Allow", "Deny", "Unauthorized"}
    rejections = [line for line in wscore_logs if '"authorizer.reject"' in line]
    assert len(rejections) == len(cases) - 2  # every failure was logged, with a reason
    assert all('"reason":' in line for line in rejections)
    captured = capsys.readouterr()
    haystacks = [*wscore_logs, *outputs, captured.out, captured.err, caplog.text]
    for case, token, _ in cases:
        fragments = {token, *(part for part in token.split(".") if len(part) >= 8)}
        for fragment in fragments:
            for text in haystacks:
                assert fragment not in text, f"{case}: token text leaked"
    leaked = [text for text in haystacks if SENTINEL in text]
    assert leaked == []


# --------------------------------------------------------------------------- cold start

COLD_START = """
import sys
sys.path[:0] = ["lambda_src", "lambda_src/handlers", "."]
import authorizer
from tools import devtoken
authorizer.handler({"methodArn": "arn:x", "queryStringParameters":
                    {"token": devtoken.mint("alice", "acme")}}, None)
print(sorted(m for m in ("boto3", "botocore", "aws_xray_sdk") if m in sys.modules))
"""


def test_dev_and_warm_paths_import_neither_boto3_nor_xray() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**DEV_ENV, "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", COLD_START],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("user", "tenant", "refused"),
    [
        ("alice", "acme", None),
        ("u" * 128, "t:x@y|z+w=v~q-r.s_t", None),
        ("bad user", "acme", "user 'bad user'"),
        ("u" * 129, "acme", "user 'uuu"),
        ("a", "b/c", "tenant 'b/c'"),
    ],
)
def test_dev_tokens_are_refused_for_ids_the_authorizer_refuses(
    env: pytest.MonkeyPatch, user: str, tenant: str, refused: str | None
) -> None:
    why = devtoken.invalid_ids(user, tenant)
    if refused is None:
        assert why is None
        # ...and the authorizer accepts exactly those.
        assert authorizer.handler(connect_event(devtoken.mint(user, tenant)), None)
    else:
        assert why is not None and refused in why
        with pytest.raises(Exception, match="Unauthorized"):
            authorizer.handler(connect_event(devtoken.mint(user, tenant)), None)


# --------------------------------------------------------------------------- outcome metrics


def _metrics(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def _counted(document: dict[str, Any]) -> set[str]:
    names = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    return {m["Name"] for m in names}


@pytest.mark.parametrize("level", ["WARN", "ERROR"])
def test_each_outcome_is_a_metric_whatever_the_log_level(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    """Rejections (client mistakes, 401) and outages (500) are separate metrics: only the
    second pages. They are written even when LOG_LEVEL hides the log records."""
    env.setenv("METRIC_PROJECT", "chat")
    env.setenv("METRIC_ENV", "prod")
    env.setenv("ALLOWED_ORIGINS", "https://app.example")
    from wscore.logs import get_logger, parse_level

    root = get_logger()
    old = root.level
    root.setLevel(parse_level(level))
    try:
        authorizer.handler(connect_event(devtoken.mint("alice", "acme")), None)
        authorizer.handler(connect_event(devtoken.mint("alice", "acme"), "https://x.example"), None)
        call_unauthorized(connect_event(devtoken.mint("bob", "acme", now=int(time.time()) - 7200)))
        call_unauthorized(connect_event(None))
    finally:
        root.setLevel(old)
    documents = _metrics(capsys.readouterr().out)
    assert [(_counted(d), d["reason"]) for d in documents] == [
        ({"AuthorizerAllowed"}, "ok"),
        ({"AuthorizerDenied"}, "origin_not_allowed"),
        ({"AuthorizerRejected"}, "expired"),
        ({"AuthorizerRejected"}, "missing_token"),
    ]
    # One dimension set, the deployment: the alarm and the dashboard read exactly this.
    assert {json.dumps(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"]) for d in documents} == {
        '[["Project", "Env"]]'
    }
    assert {(d["Project"], d["Env"]) for d in documents} == {("chat", "prod")}


def test_outages_and_configuration_errors_count_as_unavailable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_factory(service: str, region: str) -> Any:
        raise ConnectionError("endpoint unreachable")

    settings = AuthSettings(
        algorithm="HS256",
        issuer=devtoken.DEV_ISSUER,
        audience=devtoken.DEV_AUDIENCE,
        secret_arn="arn:aws:ssm:eu-west-1:123456789012:parameter/ws/jwt",
    )
    authorizer._authorizer = Authorizer.from_settings(settings, client_factory=broken_factory)
    with pytest.raises(RuntimeError):
        authorizer.handler(connect_event(devtoken.mint("alice", "acme")), None)
    authorizer.reset()
    env.setenv("DEV_MODE", "false")  # JWT_DEV_SECRET is now a configuration error
    with pytest.raises(ConfigError):
        authorizer.handler(connect_event(devtoken.mint("alice", "acme")), None)
    documents = _metrics(capsys.readouterr().out)
    assert [(_counted(d), d["reason"]) for d in documents] == [
        ({"AuthorizerUnavailable"}, "secret_unavailable"),
        ({"AuthorizerUnavailable"}, "config_error"),
    ]
