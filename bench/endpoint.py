"""A local @connections endpoint for the broadcast benchmark, run as a separate process.

It answers `POST|DELETE /{stage}/@connections/{id}` with 200/204 after an injected latency
(the order of a real HTTPS round trip to API Gateway) and counts what it received, so the
benchmark's `delivered` is what the endpoint saw, not what the sender believes.
It is a raw asyncio HTTP/1.1 server (keep-alive, no pipelining needed) so that on a small
machine it costs the sender as little shared CPU as possible.

It also answers DynamoDB's `POST /` with one fixed GetItem result (for `bench.dynamodb_calls`).

Control: `GET /_stats` -> {"posts", "deletes", "connections", "dynamodb"};
`POST /_config?latency_ms=20` sets the latency and resets the counters.

    python -m bench.endpoint --port 0     # prints {"port": N} on its first line
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import parse_qs, urlsplit


class Stats:
    def __init__(self) -> None:
        self.latency_s = 0.0
        self.posts = 0
        self.deletes = 0
        self.connections = 0
        self.bytes = 0
        self.dynamodb = 0


def response(status: int, body: bytes = b"") -> bytes:
    reason = {200: "OK", 204: "No Content", 404: "Not Found"}.get(status, "X")
    head = f"HTTP/1.1 {status} {reason}\r\n"
    if status != 204:
        head += f"Content-Length: {len(body)}\r\n"
    if body:
        head += "Content-Type: application/json\r\n"
    return head.encode() + b"\r\n" + body


OK_200 = response(200)
OK_204 = response(204)
# A connection item as the repository stores it: what a GetItem of the caller returns.
GET_ITEM = response(
    200,
    json.dumps(
        {
            "Item": {
                "PK": {"S": "CONN#L0SM9cOFvHcCIhw="},
                "SK": {"S": "META"},
                "connectionId": {"S": "L0SM9cOFvHcCIhw="},
                "userId": {"S": "alice"},
                "tenantId": {"S": "acme"},
                "connectedAt": {"N": "1796000000"},
                "expiresAt": {"N": "1796000660"},
                "GSI1PK": {"S": "USER#acme#alice"},
                "GSI1SK": {"S": "CONN#L0SM9cOFvHcCIhw="},
            }
        }
    ).encode(),
)


def content_length(head: bytes) -> int:
    """The Content-Length of a request head (0 when absent); any header case."""
    at = head.find(b"\r\nContent-Length:")
    if at < 0:
        at = head.lower().find(b"\r\ncontent-length:")
        if at < 0:
            return 0
    start = at + len(b"\r\nContent-Length:")
    stop = head.find(b"\r\n", start)
    return int(head[start : stop if stop >= 0 else len(head)])


class Server(asyncio.Protocol):
    """One client connection: parse requests, answer each after the injected latency."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.stats.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            length = content_length(head)
            if len(self.buf) < end + 4 + length:
                return
            body_size = length
            del self.buf[: end + 4 + length]
            line = head[: head.find(b"\r\n")] if b"\r\n" in head else head
            method, target = line.split(b" ", 2)[:2]
            self.handle(method, target, body_size)

    def handle(self, method: bytes, target: bytes, body_size: int) -> None:
        """Connection requests on a fast path (no parsing beyond the request line)."""
        stats = self.stats
        if b"/@connections/" in target and method in (b"POST", b"DELETE"):
            if method == b"POST":
                stats.posts += 1
                stats.bytes += body_size
                out = OK_200
            else:
                stats.deletes += 1
                out = OK_204
            if stats.latency_s > 0:
                self.loop.call_later(stats.latency_s, self.reply, out)
            else:
                self.reply(out)
            return
        if method == b"POST" and target == b"/":
            stats.dynamodb += 1
            self.reply(GET_ITEM)
            return
        url = urlsplit(target.decode("latin-1"))
        if url.path == "/_stats":
            self.reply(response(200, json.dumps(vars(stats)).encode()))
        elif url.path == "/_config":
            latency = float(parse_qs(url.query).get("latency_ms", ["0"])[0])
            stats.__init__()  # type: ignore[misc]
            stats.latency_s = latency / 1000
            self.reply(response(200, b"{}"))
        else:
            self.reply(response(404))

    def reply(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def serve(host: str, port: int) -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Server(stats), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": bound}), flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
