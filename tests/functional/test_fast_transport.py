"""Both transports against a real local HTTP server: same statuses, same outcomes.

The server scripts a status per connection id (one per attempt) and records every request,
so each scenario checks the outcome, the number of attempts and the wire format.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import unquote

import botocore.auth
import botocore.credentials
import pytest
from botocore.awsrequest import AWSRequest

from tools.selfsigned import make_certificate
from wscore.aws.fast_transport import Credentials, FastTransport
from wscore.aws.management import Boto3Transport, ManagementClient, Outcome
from wscore.aws.retry import RetryPolicy

CREDS = Credentials("AKIDLOCAL", "local/secret+key", "session-token")
DROP = -1  # close the connection without answering
HANG = -2  # answer only when the test releases the server

ERROR_TYPES = {
    410: "GoneException",
    429: "LimitExceededException",
    413: "PayloadTooLargeException",
    403: "ForbiddenException",
    500: "InternalServerErrorException",
}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Gateway:
    """A scripted @connections endpoint on 127.0.0.1:0."""

    port: int = 0
    script: dict[str, list[int]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/dev"

    def status_for(self, connection_id: str) -> int:
        with self.lock:
            self.attempts[connection_id] += 1
            steps = self.script.get(connection_id, [200])
            return steps.pop(0) if len(steps) > 1 else steps[0]


def make_handler(gw: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with gw.lock:
                gw.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
            prefix = "/dev/@connections/"
            if not self.path.startswith(prefix):
                self._answer(404)
                return
            status = gw.status_for(unquote(self.path[len(prefix) :]))
            if status == DROP:
                self.close_connection = True
                self.connection.close()
                return
            if status == HANG:
                gw.release.wait(10)
                status = 200
            if self.command == "DELETE" and status == 200:
                status = 204
            self._answer(status)

        def _answer(self, status: int) -> None:
            payload = b"" if status < 300 else json.dumps({"message": "x"}).encode()
            self.send_response(status)
            if status >= 300:
                self.send_header("x-amzn-ErrorType", ERROR_TYPES.get(status, "Error"))
                self.send_header("Content-Type", "application/json")
            if status != 204:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _serve
        do_DELETE = _serve

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs when many connections open at once


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    server = Server(("127.0.0.1", 0), make_handler(gw))
    gw.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield gw
    gw.release.set()
    server.shutdown()
    server.server_close()


def fast(endpoint: str) -> FastTransport:
    return FastTransport(endpoint, 4, credentials=lambda: CREDS, read_timeout=10.0)


def boto(endpoint: str) -> Boto3Transport:
    return Boto3Transport(endpoint, 4)


TRANSPORTS: dict[str, Callable[[str], Any]] = {"fast": fast, "boto3": boto}


@pytest.fixture(params=sorted(TRANSPORTS))
def client(
    request: pytest.FixtureRequest, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ManagementClient]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDS.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDS.token or "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    transport = TRANSPORTS[request.param](gateway.endpoint)
    yield ManagementClient(
        transport,
        gateway.endpoint,
        RetryPolicy(3, throttling_base_s=0.001, max_backoff_s=0.002, sleep=lambda _s: None),
    )
    if isinstance(transport, FastTransport):
        transport.close()


SCENARIOS = [
    ("ok", [200], Outcome.DELIVERED, 1),
    ("gone", [410], Outcome.GONE, 1),
    ("busy-then-ok", [429, 200], Outcome.DELIVERED, 2),
    ("throttled", [429], Outcome.THROTTLED, 3),
    ("too-large", [413], Outcome.TOO_LARGE, 1),
    ("forbidden", [403], Outcome.FORBIDDEN, 1),
    ("server-error", [500], Outcome.FAILED, 3),
    ("flaky", [502, 503, 200], Outcome.DELIVERED, 3),
    ("dropped", [DROP], Outcome.FAILED, 3),
    ("dropped-once", [DROP, 200], Outcome.DELIVERED, 2),
]


@pytest.mark.parametrize(("cid", "steps", "outcome", "attempts"), SCENARIOS)
def test_post_outcome(
    client: ManagementClient,
    gateway: Gateway,
    cid: str,
    steps: list[int],
    outcome: Outcome,
    attempts: int,
) -> None:
    gateway.script[cid] = list(steps)
    assert client.post(cid, b'{"type":"x"}') is outcome
    assert gateway.attempts[cid] == attempts


def test_post_many_outcomes_match_single_posts(client: ManagementClient, gateway: Gateway) -> None:
    for cid, steps, _, _ in SCENARIOS:
        gateway.script[cid] = list(steps)
    ids = [s[0] for s in SCENARIOS] + [f"extra-{i}" for i in range(20)]
    out = client.post_many(ids, b'{"type":"x"}')
    expected = {cid: outcome for cid, _, outcome, _ in SCENARIOS}
    expected.update({f"extra-{i}": Outcome.DELIVERED for i in range(20)})
    assert out == expected
    attempts = {cid: attempts for cid, _, _, attempts in SCENARIOS}
    seen = {cid: gateway.attempts[cid] for cid, *_ in SCENARIOS}
    if isinstance(client.transport, FastTransport):
        # A try on a kept-alive connection the server drops unanswered is sent again at once
        # on a new one. Whether a try of "dropped" meets a reused or a new connection depends
        # on timing, so its 3 tries reach the server 3 to 6 times.
        assert 3 <= seen.pop("dropped") <= 6
        del attempts["dropped"]
    assert seen == attempts


def test_forbidden_is_logged(
    client: ManagementClient, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    logging.getLogger("wscore").propagate = True
    try:
        gateway.script["f"] = [403]
        with caplog.at_level(logging.ERROR, logger="wscore"):
            assert client.post("f", b"{}") is Outcome.FORBIDDEN
        assert any("execute-api:ManageConnections" in r.getMessage() for r in caplog.records)
    finally:
        logging.getLogger("wscore").propagate = False


@pytest.mark.parametrize(
    ("steps", "outcome"),
    [([200], Outcome.DELIVERED), ([410], Outcome.GONE), ([403], Outcome.FORBIDDEN)],
)
def test_delete(
    client: ManagementClient, gateway: Gateway, steps: list[int], outcome: Outcome
) -> None:
    gateway.script["c1="] = list(steps)
    assert client.delete("c1=") is outcome
    assert gateway.seen[-1].method == "DELETE"
    assert gateway.seen[-1].path == "/dev/@connections/c1%3D"
    assert gateway.seen[-1].headers["content-length"] == "0"
    assert "authorization" in gateway.seen[-1].headers


def test_wire_format_and_signature(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast transport's request is SigV4-signed exactly as botocore would sign it."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    transport = fast(gateway.endpoint)
    try:
        body = b'{"type":"message","data":"\xc3\xa9"}'
        assert transport.post_batch(["L0SM9cOFvHcCIhw=", "b/c"], body) == [200, 200]
    finally:
        transport.close()
    assert sorted(s.path for s in gateway.seen) == [
        "/dev/@connections/L0SM9cOFvHcCIhw%3D",
        "/dev/@connections/b%2Fc",
    ]
    for seen in gateway.seen:
        assert seen.method == "POST"
        assert seen.body == body
        assert seen.headers["host"] == f"127.0.0.1:{gateway.port}"
        assert seen.headers["x-amz-security-token"] == CREDS.token
        request = AWSRequest(
            method="POST",
            url=f"http://127.0.0.1:{gateway.port}{seen.path}",
            data=body,
            headers={"Host": seen.headers["host"]},
        )
        when = dt.datetime.strptime(seen.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
        signer = botocore.auth.SigV4Auth(
            botocore.credentials.Credentials(CREDS.access_key, CREDS.secret_key, CREDS.token),
            "execute-api",
            "eu-west-1",
        )
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
            signer.add_auth(request)
        assert seen.headers["authorization"] == request.headers["Authorization"]
        assert "/eu-west-1/execute-api/aws4_request" in seen.headers["authorization"]


def test_connections_are_reused_across_batches(gateway: Gateway) -> None:
    """Keep-alive: a second broadcast opens no new connection."""
    opened: list[int] = []
    transport = fast(gateway.endpoint)
    original = transport._connect

    async def counting() -> Any:
        opened.append(1)
        return await original()

    transport._connect = counting  # type: ignore[method-assign]
    try:
        assert transport.post_batch([f"a{i}" for i in range(40)], b"{}") == [200] * 40
        first = len(opened)
        assert 1 <= first <= 4
        assert transport.post_batch([f"b{i}" for i in range(40)], b"{}") == [200] * 40
        assert len(opened) == first
    finally:
        transport.close()


def test_read_timeout_is_a_network_error(gateway: Gateway) -> None:
    gateway.script["slow"] = [HANG]
    transport = FastTransport(gateway.endpoint, 2, credentials=lambda: CREDS, read_timeout=0.2)
    try:
        assert transport.post("slow", b"{}") == 0
        assert transport.post("next", b"{}") == 200
    finally:
        gateway.release.set()
        transport.close()


def test_a_dead_pooled_connection_is_replaced_at_once(gateway: Gateway) -> None:
    """A kept-alive connection the server closed unanswered: resent on a new one, no backoff.

    As urllib3 does for a stale pooled connection, and only once, and only for a reused
    connection; it costs no attempt of the retry policy.
    """
    sleeps: list[float] = []
    transport = fast(gateway.endpoint)
    client = ManagementClient(transport, gateway.endpoint, RetryPolicy(sleep=sleeps.append))
    try:
        assert client.post("warm", b"{}") is Outcome.DELIVERED  # one connection, kept alive
        gateway.script["b"] = [DROP, 200]
        assert client.post("b", b"{}") is Outcome.DELIVERED
        assert gateway.attempts["b"] == 2 and sleeps == []
        gateway.script["c"] = [DROP, DROP, 200]
        assert transport.post("c", b"{}") == 0  # the new connection failed too: reported
        assert gateway.attempts["c"] == 2
    finally:
        transport.close()


def test_a_stuck_batch_is_cut_short_and_its_unknown_statuses_are_network_errors(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """A request that never ends (a bug, a wedged loop) must not hang the invocation."""
    import asyncio
    import logging

    transport = FastTransport(
        gateway.endpoint, 2, credentials=lambda: CREDS, connect_timeout=0.1, read_timeout=0.1
    )
    real = transport._exchange

    async def exchange(payload: tuple[bytes, bytes]) -> int:
        if b"/stuck " in payload[0]:
            await asyncio.Event().wait()  # never set: no timeout of the request applies
        return await real(payload)

    transport._exchange = exchange  # type: ignore[method-assign]
    results: list[list[int]] = []
    worker = threading.Thread(
        target=lambda: results.append(transport.post_batch(["a", "stuck", "c"], b"{}")),
        daemon=True,
    )
    logging.getLogger("wscore").propagate = True
    try:
        with caplog.at_level(logging.WARNING, logger="wscore"):
            worker.start()
            worker.join(15)
            assert not worker.is_alive(), "post_batch hung"
        assert results == [[200, 0, 200]]  # the finished ones keep their status
        assert any("cancelled" in r.getMessage() for r in caplog.records)
        assert transport.post("d", b"{}") == 200  # the transport still works
        assert transport.post("stuck", b"{}") == 0  # no progress at all: one window
    finally:
        logging.getLogger("wscore").propagate = False
        transport.close()


def test_refused_connection_is_a_network_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = FastTransport(
        f"http://127.0.0.1:{port}/dev", 2, credentials=lambda: CREDS, connect_timeout=1.0
    )
    assert transport.post_batch(["a", "b"], b"{}") == [0, 0]
    assert transport.delete("a") == 0


def test_concurrent_batches_from_several_threads(gateway: Gateway) -> None:
    """The transport is shared by a container's threads (as the boto3 client is)."""
    transport = fast(gateway.endpoint)
    results: dict[int, list[int]] = {}

    def send(n: int) -> None:
        results[n] = transport.post_batch([f"t{n}-{i}" for i in range(25)], b"{}")

    try:
        threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == {n: [200] * 25 for n in range(4)}
        assert len({s.path for s in gateway.seen}) == 100
    finally:
        transport.close()


def test_idle_connections_are_not_reused_after_idle_s(gateway: Gateway) -> None:
    opened: list[int] = []
    transport = FastTransport(gateway.endpoint, 2, credentials=lambda: CREDS, idle_s=0.0)
    original = transport._connect

    async def counting() -> Any:
        opened.append(1)
        return await original()

    transport._connect = counting  # type: ignore[method-assign]
    try:
        assert transport.post("a", b"{}") == 200
        assert transport.post("b", b"{}") == 200
        assert len(opened) == 2
    finally:
        transport.close()


def self_signed(tmp_path: Any) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1, as (cert file, key file)."""
    key_pem, cert_pem, _der = make_certificate()
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_gateway(tmp_path: Any) -> Iterator[tuple[Gateway, str]]:
    """A scripted gateway behind TLS with a throwaway certificate: (gateway, cert file)."""
    import ssl

    cert, key = self_signed(tmp_path)
    gw = Gateway()
    server = Server(("127.0.0.1", 0), make_handler(gw))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    gw.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield gw, cert
    server.shutdown()
    server.server_close()


def test_https_endpoint_with_verified_tls(
    tls_gateway: tuple[Gateway, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """https:// endpoints go over verified TLS on the same pooled connections."""
    import ssl

    gw, cert = tls_gateway
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    client_ctx = ssl.create_default_context(cafile=cert)
    transport = FastTransport(
        f"https://127.0.0.1:{gw.port}/dev",
        2,
        credentials=lambda: CREDS,
        region="eu-west-1",
        ssl_context=client_ctx,
    )
    untrusted = FastTransport(
        f"https://127.0.0.1:{gw.port}/dev", 2, credentials=lambda: CREDS, region="eu-west-1"
    )
    try:
        assert transport.post_batch(["a=", "b", "c"], b"{}") == [200, 200, 200]
        assert transport.delete("a=") == 204
        assert untrusted.post("x", b"{}") == 0  # the default CAs do not trust this certificate
        assert "x" not in gw.attempts
        assert gw.seen[0].headers["host"] == f"127.0.0.1:{gw.port}"
    finally:
        transport.close()
        untrusted.close()


def test_the_default_tls_context_trusts_aws_ca_bundle(
    tls_gateway: tuple[Gateway, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_CA_BUNDLE is honoured as by botocore (and the DynamoDB client), e.g. behind a proxy."""
    gw, cert = tls_gateway
    monkeypatch.setenv("AWS_CA_BUNDLE", cert)
    transport = FastTransport(
        f"https://127.0.0.1:{gw.port}/dev", 2, credentials=lambda: CREDS, region="eu-west-1"
    )
    try:
        assert transport.post("x", b"{}") == 200
        assert gw.attempts["x"] == 1
    finally:
        transport.close()
