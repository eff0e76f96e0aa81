"""The fast transport's pure parts: SigV4 equals botocore's, paths, parsing, batch retries."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from unittest import mock
from urllib.parse import quote

import boto3
import botocore.auth
import botocore.credentials
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse

from wscore.aws import management
from wscore.aws.fast_transport import (
    Credentials,
    FastTransport,
    SigV4Signer,
    _ResponseParser,
    region_for,
)
from wscore.aws.management import ManagementClient, Outcome
from wscore.aws.retry import RetryPolicy
from wscore.errors import ConfigError

AMZ_DATE = "20261128T053012Z"


def request_path(stage: str, connection_id: str) -> str:
    """`/{stage}/@connections/{id}`, the id percent-encoded as botocore encodes it."""
    return f"{stage}/@connections/{quote(connection_id, safe='-._~')}"


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode().split("\r\n")
    method, path, version = lines[0].split(" ")
    assert version == "HTTP/1.1"
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
    assert head.endswith(b"\r\n\r\n")
    return method, path, headers


def botocore_authorization(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    creds: Credentials,
    region: str,
) -> str:
    """What botocore's own SigV4 signer produces for the same request and time."""
    request = AWSRequest(method=method, url=url, data=body, headers={"Host": headers["host"]})
    when = dt.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(creds.access_key, creds.secret_key, creds.token),
        "execute-api",
        region,
    )
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        signer.add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//session+token="])
@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        (
            "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
            "abc123.execute-api.eu-west-1.amazonaws.com",
        ),
        ("http://127.0.0.1:3001/local", "127.0.0.1:3001"),
    ],
)
@pytest.mark.parametrize("connection_id", ["L0SM9cOFvHcCIhw=", "a/b c+d", "plain-id_1.~"])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_signature_matches_botocore(
    token: str | None, endpoint: str, host: str, connection_id: str, method: str
) -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    stage = "/" + endpoint.rsplit("/", 1)[1]
    body = b'{"type":"message","data":"h\xc3\xa9llo"}' if method == "POST" else b""
    signer = SigV4Signer(host, "eu-west-1")
    template = signer.template(method, stage, hashlib.sha256(body).hexdigest(), creds, AMZ_DATE)
    head = template.request_head(connection_id, f"Content-Length: {len(body)}\r\n")
    got_method, path, headers = parse_head(head)
    assert got_method == method
    assert path == request_path(stage, connection_id)
    assert headers["host"] == host
    assert headers["x-amz-date"] == AMZ_DATE
    assert headers.get("x-amz-security-token") == token
    scheme = endpoint.split(":", 1)[0]
    expected = botocore_authorization(
        method, f"{scheme}://{host}{path}", headers, body, creds, "eu-west-1"
    )
    assert headers["authorization"] == expected


def test_signing_key_is_cached_per_day_and_secret() -> None:
    signer = SigV4Signer("h", "eu-west-1")
    k1 = signer.signing_key("s1", "20261128")
    assert signer.signing_key("s1", "20261128") is k1
    assert signer.signing_key("s1", "20261129") != k1
    assert signer.signing_key("s2", "20261129") != signer.signing_key("s1", "20261129")


class EmptyBody:
    def stream(self) -> list[bytes]:
        return [b""]


def test_path_is_what_boto3_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request path equals the one boto3's own serializer builds for PostToConnection."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        seen.append(request.url)
        return AWSResponse(request.url, 200, {}, EmptyBody())

    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        region_name="eu-west-1",
    )
    client.meta.events.register("before-send.apigatewaymanagementapi", capture)
    for cid in ["L0SM9cOFvHcCIhw=", "a/b c+d@x"]:
        client.post_to_connection(ConnectionId=cid, Data=b"x")
        assert seen[-1].split(".com", 1)[1] == request_path("/prod", cid)


def test_region_from_host_or_environment() -> None:
    assert region_for("x.execute-api.ap-south-2.amazonaws.com") == "ap-south-2"
    assert region_for("127.0.0.1", {"AWS_REGION": "eu-north-1"}) == "eu-north-1"
    assert region_for("ws.example.com", {"AWS_DEFAULT_REGION": "us-west-2"}) == "us-west-2"
    assert region_for("ws.example.com", {}) == "us-east-1"


def test_session_credentials_come_from_the_boto3_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    from wscore.aws.sigv4 import session_credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-env")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-env")
    assert session_credentials()() == Credentials("AKIDENV", "secret-env", "token-env")


def test_endpoint_must_be_http() -> None:
    with pytest.raises(ConfigError):
        FastTransport("ftp://x/dev", credentials=lambda: Credentials("a", "b"))


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], (200, True)),
        ([b"HTTP/1.1 410 Gone\r\nContent-Le", b"ngth: 2\r\n\r\n{", b"}"], (410, True)),
        ([b"HTTP/1.1 204 No Content\r\n\r\n"], (204, True)),
        ([b"HTTP/1.1 500 X\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"], (500, False)),
        ([b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"], (200, False)),
        (
            [b"HTTP/1.1 429 T\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", b"0\r\n\r\n"],
            (429, True),
        ),
    ],
)
def test_response_parser(chunks: list[bytes], expected: tuple[int, bool]) -> None:
    parser = _ResponseParser()
    results = [parser.feed(chunk) for chunk in chunks]
    assert results[:-1] == [None] * (len(chunks) - 1)
    assert results[-1] == expected
    assert parser.buf == bytearray()


def test_response_without_length_resolves_at_eof() -> None:
    parser = _ResponseParser()
    assert parser.feed(b"HTTP/1.1 403 Forbidden\r\n\r\nno length") is None
    assert parser.status_at_eof() == 403
    assert _ResponseParser().status_at_eof() == 0


class ScriptedBatch:
    """A bulk transport whose statuses are scripted per id and per attempt."""

    max_concurrency = 8

    def __init__(self, script: dict[str, list[int]]) -> None:
        self.script = script
        self.rounds: list[tuple[list[str], list[float] | None]] = []

    def post_batch(
        self, ids: list[str], data: bytes, delays: list[float] | None = None
    ) -> list[int]:
        self.rounds.append((list(ids), None if delays is None else list(delays)))
        return [
            self.script[cid].pop(0) if len(self.script[cid]) > 1 else self.script[cid][0]
            for cid in ids
        ]

    def post(self, cid: str, data: bytes) -> int:
        return self.post_batch([cid], data)[0]

    def delete(self, cid: str) -> int:
        return 204


def test_batched_post_many_keeps_the_retry_rules() -> None:
    transport = ScriptedBatch(
        {
            "ok": [200],
            "gone": [410],
            "big": [413],
            "nope": [403],
            "busy": [429, 200],
            "flaky": [500, 0, 200],
            "down": [503],
            "slow": [429],
        }
    )
    draws = iter([0.5, 0.25, 0.75, 1.0, 0.1, 0.2, 0.3])
    policy = RetryPolicy(
        3,
        throttling_base_s=0.1,
        transient_base_s=0.1,
        max_backoff_s=1.0,
        rng=lambda: next(draws),
        sleep=lambda _s: pytest.fail("the batch path must not block in sleep"),
    )
    client = ManagementClient(transport, "https://e/dev", policy)
    out = client.post_many(list(transport.script), b"{}")
    assert out == {
        "ok": Outcome.DELIVERED,
        "gone": Outcome.GONE,
        "big": Outcome.TOO_LARGE,
        "nope": Outcome.FORBIDDEN,
        "busy": Outcome.DELIVERED,
        "flaky": Outcome.DELIVERED,
        "down": Outcome.FAILED,
        "slow": Outcome.THROTTLED,
    }
    ids = [r[0] for r in transport.rounds]
    assert ids == [
        list(transport.script),
        ["busy", "flaky", "down", "slow"],
        ["flaky", "down", "slow"],
    ]
    # Each retried id waits its own full-jitter delay, drawn from the policy's rng in id
    # order: U(0,1) * min(cap, base * 2**attempt).
    assert transport.rounds[0][1] is None
    assert transport.rounds[1][1] == pytest.approx([0.05, 0.025, 0.075, 0.1])
    assert transport.rounds[2][1] == pytest.approx([0.02, 0.04, 0.06])


def test_default_transport_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    endpoint = "https://abc.execute-api.eu-west-1.amazonaws.com/dev"
    monkeypatch.delenv("MANAGEMENT_TRANSPORT", raising=False)
    fast = management.default_transport(endpoint)
    assert isinstance(fast, FastTransport)
    assert fast.max_concurrency == 64
    monkeypatch.setenv("MANAGEMENT_TRANSPORT", "boto3")
    monkeypatch.setenv("MANAGEMENT_CONCURRENCY", "16")
    slow = management.default_transport(endpoint)
    assert isinstance(slow, management.Boto3Transport)
    assert slow.max_concurrency == 16
    monkeypatch.setenv("MANAGEMENT_TRANSPORT", "curl")
    with pytest.raises(ConfigError, match="MANAGEMENT_TRANSPORT"):
        management.default_transport(endpoint)
