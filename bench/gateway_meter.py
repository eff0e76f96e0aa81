"""The local gateway with meters: what a scenario cost in posts, DynamoDB and Lambda time.

    python -m bench.gateway_meter     # instead of `python -m local_gateway`

The same gateway, handlers and emulator, with counters the benchmark reads at the start
and the end of each phase (`GET /_bench/meter` on the gateway's port, one JSON snapshot):

- `posts`: @connections posts, by frame type (`presence`, `message`, ...), whatever the
  answer; `posts_failed`: those not answered 200, by type and status (`presence 410`: the
  member had gone); `presence_users`: the user transitions the delivered presence frames
  carried (1 per v1 `join`/`leave` frame, the length of `joined` + `left` of a coalesced one);
- `lambda`: per function, invocations and the sum of their durations (s), as
  `LambdaRuntime.invoke_sync` ran them (in this process's threads, sharing its interpreter
  lock: longer than on Lambda, comparable between runs on one machine); `running`: those
  not finished yet;
- `metrics`: the handlers' metric lines (EMF) summed by name and `kind`, e.g.
  `broadcast/presence` {targets, delivered, ...};
- `dynamodb`: every DynamoDB request the emulator served (handlers and the gateway's TTL
  sweeper, its `Scan`s) by operation, with the read and write units computed from item
  sizes as `bench.cost.consumed_units` does (moto's own ConsumedCapacity is a constant).
  The emulator (`python -m bench.gateway_meter --emulator`, started by the gateway through
  `local_gateway.aws.EMULATOR_ARGS`) reads the items before and after each write in its
  own memory, so metering adds no request.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from typing import Any

METER_PATH = "/_bench/meter"
ARGS = ("-m", "bench.gateway_meter", "--emulator")
READ_OPS = ("GetItem", "Query", "BatchGetItem")
WRITE_OPS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")


class Counts:
    """Thread-safe counters, read as one JSON snapshot."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, Any] = defaultdict(dict)

    def add(self, group: str, key: str, amount: float = 1) -> None:
        with self.lock:
            bucket = self.values[group]
            bucket[key] = bucket.get(key, 0) + amount

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            copy: dict[str, Any] = json.loads(json.dumps(self.values))
        return copy


COUNTS = Counts()


# -- the emulator process -------------------------------------------------------------------


def _key_of(table: Any, item: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr, table.range_key_attr]
    return {name: item[name] for name in names if name and name in item}


def _item(backend: Any, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored item (wire format) or None, straight from the emulator's memory."""
    try:
        found = backend.get_item(table_name, key)
    except Exception:  # an invalid key: the request itself fails the same way
        return None
    return found.to_json()["Attributes"] if found is not None else None


def _before(backend: Any, op: str, body: dict[str, Any]) -> Any:
    if op in ("UpdateItem", "DeleteItem"):
        return _item(backend, body["TableName"], body["Key"])
    if op == "PutItem":
        table = backend.get_table(body["TableName"])
        return _item(backend, body["TableName"], _key_of(table, body["Item"]))
    if op == "BatchWriteItem":
        return [
            _item(backend, name, r["DeleteRequest"]["Key"]) if "DeleteRequest" in r else None
            for name, requests in body["RequestItems"].items()
            for r in requests
        ]
    return None


def _count(op: str, body: dict[str, Any], response: dict[str, Any], old: Any, new: Any) -> None:
    from bench.cost import consumed_units

    reads, writes = consumed_units(op, body, response, old, new)
    COUNTS.add("dynamodb_requests", op)
    COUNTS.add("dynamodb_units", "read", reads)
    COUNTS.add("dynamodb_units", "write", writes)


def _metered(op: str, method: Any) -> Any:
    def action(self: Any) -> Any:
        body, backend = self.body, self.dynamodb_backend
        old = _before(backend, op, body)
        try:
            result = method(self)
        except Exception as exc:  # a failed condition is billed too
            _count(op, body, {"Error": type(exc).__name__}, old, old)
            raise
        new = _item(backend, body["TableName"], body["Key"]) if op == "UpdateItem" else None
        _count(op, body, result.result if isinstance(result.result, dict) else {}, old, new)
        return result

    return action


def install_emulator_meters() -> None:
    """Meter moto's DynamoDB actions and serve the counts at METER_PATH."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    for op in (*READ_OPS, *WRITE_OPS, "Scan"):
        name = "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_")
        setattr(DynamoHandler, name, _metered(op, getattr(DynamoHandler, name)))
    dispatch = DomainDispatcherApplication.__call__

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == METER_PATH:
            body = json.dumps(COUNTS.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]


# -- the gateway process --------------------------------------------------------------------


def presence_users(frame: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(joined, left) user ids a presence frame announces: a v1 frame one user (`event`
    join or leave), a coalesced one its `joined` and `left` lists."""
    if "event" in frame:
        user = [str(frame.get("userId"))]
        return (user, []) if frame["event"] == "join" else ([], user)
    return list(frame.get("joined") or []), list(frame.get("left") or [])


def frame_kind(data: bytes) -> tuple[str, int]:
    """(frame type, user transitions it carries) of a posted frame; ('other', 0) if not
    JSON."""
    try:
        frame = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return "other", 0
    if not isinstance(frame, dict):
        return "other", 0
    kind = str(frame.get("type", "other"))
    if kind != "presence":
        return kind, 0
    joined, left = presence_users(frame)
    return kind, len(joined) + len(left)


def install_gateway_meters() -> None:
    """Hooks on the gateway's posts, invocations and metric lines; the meter route."""
    from local_gateway import aws, lambdas, logs, server

    aws.EMULATOR_ARGS = ARGS
    invoke_sync = lambdas.LambdaRuntime.invoke_sync

    def timed(self: Any, fn: Any, event: Any, expected_error: str | None = None) -> Any:
        COUNTS.add("lambda_started", fn.name)
        started = time.perf_counter()
        try:
            return invoke_sync(self, fn, event, expected_error)
        finally:
            COUNTS.add("lambda_seconds", fn.name, time.perf_counter() - started)
            COUNTS.add("lambda_invocations", fn.name)

    lambdas.LambdaRuntime.invoke_sync = timed  # type: ignore[method-assign]
    post = server.Gateway.post_to_connection

    async def counted(self: Any, request: Any) -> Any:
        response = await post(self, request)
        kind, users = frame_kind(await request.read())  # aiohttp keeps the read body
        COUNTS.add("posts", kind)
        if response.status == 200:
            COUNTS.add("presence_users", "total", users)
        else:
            COUNTS.add("posts_failed", f"{kind} {response.status}")
        return response

    server.Gateway.post_to_connection = counted  # type: ignore[method-assign]
    metric_at_debug = logs._metric_at_debug

    def metric(logger: Any, document: dict[str, Any]) -> None:
        name = f"{document.get('metric')}/{document.get('kind', '-')}"
        for key, value in document.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                COUNTS.add("metrics", f"{name}/{key}", value)
        metric_at_debug(logger, document)

    logs._metric_at_debug = metric
    app = server.Gateway.app

    def with_meter(self: Any) -> Any:
        application = app(self)

        async def route(request: Any) -> Any:
            return await meter_route(self)

        application.router.add_get(METER_PATH, route)
        return application

    server.Gateway.app = with_meter  # type: ignore[method-assign]


async def meter_route(gateway: Any) -> Any:
    from aiohttp import web

    emulator = gateway.extra_health.get("awsEndpoint", "")
    snapshot = COUNTS.snapshot()
    if emulator:
        snapshot.update(await asyncio.to_thread(read_meter, emulator + METER_PATH))
    return web.json_response(snapshot)


def read_meter(url: str) -> dict[str, Any]:
    """One snapshot from a meter URL (the gateway's or the emulator's)."""
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - a local meter
        snapshot: dict[str, Any] = json.loads(answer.read())
    return snapshot


def main() -> None:
    if "--emulator" in sys.argv[1:]:
        from local_gateway import moto_process

        install_emulator_meters()
        moto_process.main()
        return
    from local_gateway import __main__ as gateway

    install_gateway_meters()
    status = gateway.main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # as `python -m local_gateway` does: skip the interpreter's teardown


if __name__ == "__main__":
    main()
