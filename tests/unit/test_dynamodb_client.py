"""The fast DynamoDB client: botocore's signature, its error contract, retries, endpoints.

What it does against a real DynamoDB API (moto's server) is covered by the functional and
integration suites, which run the handlers on it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from unittest import mock

import botocore.auth
import botocore.credentials
import pytest
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from wscore.aws import dynamodb
from wscore.aws.dynamodb import FastDynamoDBClient, dynamodb_client, endpoint_for
from wscore.aws.retry import RetryPolicy
from wscore.aws.sigv4 import Credentials
from wscore.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW = dt.datetime(2026, 11, 28, 7, 30, 12, tzinfo=dt.UTC)
KEY = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
PARAMS = {
    "TableName": "ws-prod",
    "Item": {"PK": {"S": "CONN#é/+="}, "SK": {"S": "META"}, "expiresAt": {"N": "1796000000"}},
    "ConditionExpression": "attribute_not_exists(PK)",
}


def client(
    creds: Credentials = KEY, endpoint: str = "https://dynamodb.eu-west-1.amazonaws.com", **kw: Any
) -> FastDynamoDBClient:
    """A client whose retries sleep into `sleep` (nowhere by default); other kw: the policy's."""
    policy = RetryPolicy(
        sleep=kw.pop("sleep", lambda _s: None),
        transient_base_s=dynamodb.TRANSIENT_BASE_S,
        **kw,
    )
    return FastDynamoDBClient(endpoint, "eu-west-1", lambda: creds, retry=policy)


def botocore_headers(url: str, body: bytes, target: str, creds: Credentials) -> dict[str, str]:
    """The headers botocore's own SigV4 signer produces for the same request and time."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": dynamodb.CONTENT_TYPE, "X-Amz-Target": target},
    )
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(creds.access_key, creds.secret_key, creds.token),
        "dynamodb",
        "eu-west-1",
    )
    naive = NOW.replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive):
        signer.add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//session+token="])
@pytest.mark.parametrize(
    "endpoint", ["https://dynamodb.eu-west-1.amazonaws.com", "http://127.0.0.1:4566"]
)
@pytest.mark.parametrize("operation", ["PutItem", "Query"])
def test_signature_matches_botocore(token: str | None, endpoint: str, operation: str) -> None:
    creds = Credentials(KEY.access_key, KEY.secret_key, token)
    body = json.dumps(PARAMS, separators=(",", ":")).encode()
    ours = client(creds, endpoint).headers(operation, body, NOW.timestamp())
    theirs = botocore_headers(endpoint + "/", body, f"DynamoDB_20120810.{operation}", creds)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"] == "20261128T073012Z"
    assert ours.get("X-Amz-Security-Token") == token
    assert ours["X-Amz-Target"] == f"DynamoDB_20120810.{operation}"


class Sent(Exception):
    """What urllib3 handed to the socket, raised instead of sending it."""


def wire_request(fast: FastDynamoDBClient) -> tuple[dict[str, str], bytes]:
    """The headers and body of a GetItem exactly as urllib3 writes them, without a network."""
    import http.client

    import urllib3.connection

    sent = bytearray()

    def capture(_conn: Any, data: bytes) -> None:
        sent.extend(data)
        head, _, body = bytes(sent).partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        if len(body) == length:
            raise Sent(bytes(sent))  # the whole request: stop before any network use

    with (
        mock.patch.object(urllib3.connection.HTTPConnection, "connect", lambda _c: None),
        mock.patch.object(urllib3.connection.HTTPSConnection, "connect", lambda _c: None),
        mock.patch.object(http.client.HTTPConnection, "send", capture),
        pytest.raises(Sent) as caught,
    ):
        fast.get_item(TableName="t", Key={"PK": {"S": "x"}})
    head, _, body = caught.value.args[0].partition(b"\r\n\r\n")
    assert json.loads(body) == {"TableName": "t", "Key": {"PK": {"S": "x"}}}
    lines = head.decode().split("\r\n")[1:]
    return dict(line.split(": ", 1) for line in lines), body


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://dynamodb.eu-west-1.amazonaws.com",
        "https://dynamodb.eu-west-1.amazonaws.com:443",  # an explicit default port
        "http://localhost:80",
        "http://127.0.0.1:4566",
        "https://[::1]:8443",
        "http://LocalHost:4566",  # urllib3 sends host names in lower case
    ],
)
def test_the_signature_covers_the_host_header_urllib3_sends(endpoint: str) -> None:
    """Sign what is sent: botocore, given the request as it goes out, signs it the same."""
    fast = client(endpoint=endpoint)
    headers, body = wire_request(fast)
    assert ":443" not in headers["Host"] and ":80" not in headers["Host"]
    signed = headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "host" in signed
    as_sent = {name: value for name, value in headers.items() if name.lower() in signed}
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=as_sent)
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(KEY.access_key, KEY.secret_key), "dynamodb", "eu-west-1"
    )
    when = dt.datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        signer.add_auth(request)
    assert headers["Authorization"] == request.headers["Authorization"]


class Wire:
    """Scripted `_send` answers: (status, body dict) tuples or exceptions, in order."""

    def __init__(self, fast: FastDynamoDBClient, *answers: Any) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        fast._send = self.send  # type: ignore[method-assign]

    def send(self, operation: str, body: bytes) -> tuple[int, bytes, str]:
        self.sent.append((operation, json.loads(body)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, payload = answer
        return status, json.dumps(payload).encode(), "req-1"


def error(code: str, message: str = "m", **extra: Any) -> dict[str, Any]:
    return {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}


def test_operations_send_their_parameters_and_return_the_body() -> None:
    fast = client()
    wire = Wire(fast, (200, {"Attributes": {"PK": {"S": "x"}}}))
    out = fast.delete_item(TableName="t", Key={"PK": {"S": "x"}}, ReturnValues="ALL_OLD")
    assert wire.sent == [
        ("DeleteItem", {"TableName": "t", "Key": {"PK": {"S": "x"}}, "ReturnValues": "ALL_OLD"})
    ]
    assert out == {
        "Attributes": {"PK": {"S": "x"}},
        "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "req-1"},
    }


def test_a_failed_condition_is_a_client_error_with_the_body_and_no_retry() -> None:
    sleeps: list[float] = []
    fast = client(sleep=sleeps.append)
    item = {"PK": {"S": "CONN#c1"}}
    Wire(
        fast,
        (
            400,
            error("ConditionalCheckFailedException", "The conditional request failed", Item=item),
        ),
    )
    with pytest.raises(ClientError) as caught:
        fast.put_item(**PARAMS)
    response = caught.value.response
    assert response["Error"] == {
        "Code": "ConditionalCheckFailedException",
        "Message": "The conditional request failed",
    }
    assert response["Item"] == item  # type: ignore[typeddict-item]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.operation_name == "PutItem"
    assert sleeps == []


THROTTLING_WAITS = [1.0, 2.0]  # botocore: U(0, 1 s * 2**attempt), here at its ceiling
TRANSIENT_WAITS = [0.025, 0.05]  # botocore's DynamoDB base for other errors: 25 ms


@pytest.mark.parametrize(
    ("first", "waits"),
    [
        ((400, error("ProvisionedThroughputExceededException")), THROTTLING_WAITS),
        ((400, error("ThrottlingException")), THROTTLING_WAITS),
        ((500, error("InternalServerError")), TRANSIENT_WAITS),
        ((503, {}), TRANSIENT_WAITS),
        ((400, error("ReplicatedWriteConflictException")), TRANSIENT_WAITS),
        (NewConnectionError(None, "refused"), TRANSIENT_WAITS),  # type: ignore[arg-type]
        (ReadTimeoutError(None, "/", "read timed out"), TRANSIENT_WAITS),  # type: ignore[arg-type]
    ],
)
def test_throttling_server_and_network_errors_are_retried(first: Any, waits: list[float]) -> None:
    sleeps: list[float] = []
    fast = client(sleep=sleeps.append, rng=lambda: 1.0)
    wire = Wire(fast, first, first, (200, {"Count": 0, "Items": []}))
    assert fast.query(TableName="t")["Count"] == 0
    assert len(wire.sent) == 3
    assert sleeps == waits


def test_throttling_waits_as_long_as_botocore() -> None:
    """The default client backs off like botocore's standard mode (it used to stop ~20x sooner)."""
    sleeps: list[float] = []
    fast = FastDynamoDBClient(
        "https://dynamodb.eu-west-1.amazonaws.com",
        "eu-west-1",
        lambda: KEY,
        retry=RetryPolicy(sleep=sleeps.append, rng=lambda: 1.0),
    )
    wire = Wire(fast, *[(400, error("ThrottlingException"))] * 3)
    with pytest.raises(ClientError, match="ThrottlingException"):
        fast.query(TableName="t")
    assert len(wire.sent) == 3 and sleeps == [1.0, 2.0]


def test_an_empty_retry_quota_stops_retrying() -> None:
    """botocore's quota of 500: each throttling retry takes 5, so 100 retries drain it."""
    fast = client()
    throttled = (400, error("ThrottlingException"))
    wire = Wire(fast, *[throttled] * 151)
    for _ in range(50):  # 50 calls x 2 retries x 5 tokens
        with pytest.raises(ClientError):
            fast.query(TableName="t")
    assert len(wire.sent) == 150
    with pytest.raises(ClientError):
        fast.query(TableName="t")
    assert len(wire.sent) == 151, "no retry without quota"
    Wire(fast, (200, {"Count": 0}), throttled)
    fast.query(TableName="t")  # a success gives a token back: still short of a retry
    with pytest.raises(ClientError):
        fast.query(TableName="t")


def test_retries_are_bounded_and_the_last_error_is_raised() -> None:
    fast = client()
    wire = Wire(fast, *[(400, error("ProvisionedThroughputExceededException"))] * 3)
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        fast.get_item(TableName="t", Key={})
    assert len(wire.sent) == 3


def test_a_persistent_network_error_raises_botocores_http_client_error() -> None:
    fast = client()
    Wire(fast, *[NewConnectionError(None, "refused")] * 3)  # type: ignore[arg-type]
    with pytest.raises(HTTPClientError):
        fast.update_item(TableName="t", Key={})


@pytest.mark.parametrize("code", ["ValidationException", "ResourceNotFoundException"])
def test_caller_errors_are_not_retried(code: str) -> None:
    fast = client()
    wire = Wire(fast, (400, error(code)))
    with pytest.raises(ClientError, match=code):
        fast.batch_write_item(RequestItems={})
    assert len(wire.sent) == 1


def test_a_programming_error_is_not_retried_or_wrapped() -> None:
    fast = client()
    wire = Wire(fast, ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        fast.query(TableName="t")
    assert len(wire.sent) == 1


@pytest.mark.parametrize(
    "value",
    [{"B": b"\x00\xff"}, {"BS": [b"a", b"b"]}, {"L": [{"B": bytearray(b"x")}]}],
)
def test_binary_values_are_refused_before_sending(value: dict[str, Any]) -> None:
    """The client has no model to base64 B/BS (nor to decode them): say so, send nothing."""
    fast = client()
    wire = Wire(fast)
    with pytest.raises(ParamValidationError, match="DYNAMODB_TRANSPORT=boto3") as caught:
        fast.put_item(TableName="t", Item={"PK": {"S": "x"}, "blob": value})
    assert "binary" in str(caught.value)
    assert wire.sent == []


def test_other_unserialisable_parameters_still_fail_as_json_does() -> None:
    fast = client()
    Wire(fast)
    with pytest.raises(TypeError, match="not JSON serializable"):
        fast.put_item(TableName="t", Item={"PK": {"S": object()}})


@pytest.mark.parametrize(
    ("region", "env", "expected"),
    [
        ("eu-west-1", {}, "https://dynamodb.eu-west-1.amazonaws.com"),
        ("cn-north-1", {}, "https://dynamodb.cn-north-1.amazonaws.com.cn"),
        ("eu-west-1", {"AWS_ENDPOINT_URL": "http://localhost:4566/"}, "http://localhost:4566"),
        (
            "eu-west-1",
            {"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_DYNAMODB": "http://b:2"},
            "http://b:2",
        ),
        ("us-gov-west-1", {"AWS_USE_FIPS_ENDPOINT": "true"}, None),
        ("eu-west-1", {"AWS_USE_DUALSTACK_ENDPOINT": "true"}, None),
        ("us-iso-east-1", {}, None),
        ("", {}, None),
    ],
)
def test_endpoint_rules(region: str, env: dict[str, str], expected: str | None) -> None:
    assert endpoint_for(region, env) == expected


BASE_ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "a",
    "AWS_SECRET_ACCESS_KEY": "b",
}


@pytest.mark.parametrize(
    ("env", "traced", "fast"),
    [
        ({}, False, True),
        ({"DYNAMODB_TRANSPORT": "boto3"}, False, False),
        ({}, True, False),  # the X-Ray SDK instruments botocore clients
        ({"AWS_USE_FIPS_ENDPOINT": "true"}, False, False),
    ],
)
def test_the_client_is_fast_unless_only_boto3_can_serve(
    env: dict[str, str], traced: bool, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {**BASE_ENV, **env}.items():
        monkeypatch.setenv(key, value)
    made = dynamodb_client({**BASE_ENV, **env}, traced=traced)
    assert isinstance(made, FastDynamoDBClient if fast else BaseClient)


def test_an_unknown_transport_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DYNAMODB_TRANSPORT must be fast or boto3, got 'http'"):
        dynamodb_client({**BASE_ENV, "DYNAMODB_TRANSPORT": "http"})


def test_endpoint_must_be_http() -> None:
    with pytest.raises(ConfigError, match="http"):
        FastDynamoDBClient("ftp://x", "eu-west-1")


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[dict[str, str], bytes, int]] = []  # noqa: RUF012 - shared by design

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.seen.append((dict(self.headers.items()), body, self.client_address[1]))
        answer = json.dumps({"Item": {"PK": {"S": "x"}}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("x-amzn-RequestId", "rid-7")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_go_over_one_kept_alive_connection(recorder: str) -> None:
    fast = client(endpoint=recorder)
    for _ in range(3):
        out = fast.get_item(TableName="t", Key={"PK": {"S": "x"}})
        assert out["Item"] == {"PK": {"S": "x"}}
        assert out["ResponseMetadata"]["RequestId"] == "rid-7"
    headers, body, _port = Recorder.seen[0]
    assert json.loads(body) == {"TableName": "t", "Key": {"PK": {"S": "x"}}}
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert len({port for _h, _b, port in Recorder.seen}) == 1, "one connection, reused"


def test_tls_trusts_aws_ca_bundle_else_botocores_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same trust as botocore's client (the fast transport shares the helper)."""
    from botocore.httpsession import get_cert_path

    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/corp-ca.pem")
    assert client()._http.connection_pool_kw["ca_certs"] == "/etc/corp-ca.pem"
    monkeypatch.delenv("AWS_CA_BUNDLE")
    assert client()._http.connection_pool_kw["ca_certs"] == str(get_cert_path(True))
