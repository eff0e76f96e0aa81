"""DynamoDB failing under the handlers: throttling, and unprocessed batch items.

Failures are injected on the handlers' own DynamoDB client (both clients, see `Faults`):
the call returns the error DynamoDB would send (after the client's own retries), or a
partial BatchWriteItem result. A client action never sees a 5xx or a stack trace: it gets
an `internal_error` frame, and the log holds the details.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from tests.functional.conftest import World
from tests.helpers import HANDLER_FOR_ACTION, Records, captured_logs, moto_table_items
from tools.devtoken import mint
from tools.ws_events import ws_event
from wscore.aws import dynamodb
from wscore.aws.dynamodb import FastDynamoDBClient
from wscore.aws.retry import RetryPolicy

Injector = Callable[..., Any]

THROTTLED = {
    "Error": {
        "Code": "ProvisionedThroughputExceededException",
        "Message": "The level of configured provisioned throughput for the table was exceeded.",
    },
    "ResponseMetadata": {"HTTPStatusCode": 400},
}


def _db(world: World) -> Any:
    from wscore import services

    return services.services().repo._db


def _record_batch_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Give the handlers' repository a retry policy that records its waits (jitter at 1)."""
    from wscore import repository, services

    sleeps: list[float] = []
    policy = RetryPolicy(repository._BATCH_WRITE_ATTEMPTS, sleep=sleeps.append, rng=lambda: 1.0)
    monkeypatch.setattr(services.services().repo, "_retry", policy)
    return sleeps


class Faults:
    """Scripted failures for one operation of the handlers' DynamoDB client.

    On boto3's client they enter through its `before-call` event; on the fast client they
    replace its `call` (after its own retries, as with botocore) with the error body
    DynamoDB sends, so its conversion into `ClientError` is what the handlers see.
    """

    def __init__(self, world: World) -> None:
        self.client = _db(world)
        self.calls: dict[str, int] = {}
        self._handlers: list[tuple[str, Injector]] = []
        self._fast: dict[str, Callable[[int, dict[str, Any]], Any]] = {}

    def _count(self, operation: str) -> int:
        n = self.calls[operation] = self.calls.get(operation, 0) + 1
        return n

    def on(self, operation: str, respond: Callable[[int, dict[str, Any]], Any]) -> None:
        """respond(call_number, params) returns a (status, parsed) tuple, or None to pass."""
        if isinstance(self.client, FastDynamoDBClient):
            self._on_fast(operation, respond)
            return

        def handler(params: dict[str, Any], **_: Any) -> Any:
            n = self._count(operation)
            body = params.get("body") or b"{}"
            answer = respond(n, json.loads(body))
            if answer is None:
                return None
            status, parsed = answer
            return AWSResponse("https://dynamodb", status, {}, None), parsed

        event = f"before-call.dynamodb.{operation}"
        self.client.meta.events.register(event, handler)
        self._handlers.append((event, handler))

    def _on_fast(self, operation: str, respond: Callable[[int, dict[str, Any]], Any]) -> None:
        client = self.client
        if not self._fast:
            real = client.call

            def call(op: str, params: dict[str, Any]) -> dict[str, Any]:
                script = self._fast.get(op)
                if script is None:
                    return real(op, params)
                answer = script(self._count(op), json.loads(json.dumps(params)))
                if answer is None:
                    return real(op, params)
                status, parsed = answer
                if status == 200:
                    return dict(parsed)
                error = parsed["Error"]
                wire = {"__type": f"com.amazonaws.dynamodb.v20120810#{error['Code']}"}
                raise dynamodb._client_error(op, status, {**wire, "message": error["Message"]}, "")

            client.call = call
        self._fast[operation] = respond

    def clear(self) -> None:
        for event, handler in self._handlers:
            self.client.meta.events.unregister(event, handler)
        if self._fast:
            self._fast.clear()
            del self.client.call


@pytest.fixture
def faults(world: World) -> Iterator[Faults]:
    world.connect("c0", "zed", "acme")  # builds the services inside moto
    f = Faults(world)
    yield f
    f.clear()


@pytest.fixture
def logs() -> Iterator[Records]:
    with captured_logs("wscore") as records:
        yield records


def _throttle(first: int = 1, last: int = 10**9) -> Callable[[int, dict[str, Any]], Any]:
    return lambda n, _p: (400, THROTTLED) if first <= n <= last else None


# A valid request of every action (the assertion below keeps it complete).
FIELDS: dict[str, dict[str, Any]] = {
    "joinRoom": {"roomId": "lobby"},
    "leaveRoom": {"roomId": "lobby"},
    "sendMessage": {"roomId": "lobby", "data": "hi"},
    "heartbeat": {},
    "getPresence": {"roomId": "lobby"},
    "getHistory": {"roomId": "lobby", "afterSeq": 0},
    "refreshToken": {"token": mint("alice", "acme")},
}
assert set(FIELDS) == set(HANDLER_FOR_ACTION)


def _setup(world: World) -> None:
    world.connect("c1", "alice", "acme")
    world.connect("c2", "bob", "acme")
    for cid in ("c1", "c2"):
        assert world.act(cid, {"action": "joinRoom", "roomId": "lobby"})["type"] == "ack"
    world.transport.sent.clear()


def _call(world: World, action: str) -> dict[str, Any]:
    body = {"action": action, "requestId": "req-1", **FIELDS[action]}
    return world.call(HANDLER_FOR_ACTION[action], ws_event("message", "c1", "alice", "acme", body))


@pytest.mark.parametrize("action", sorted(FIELDS))
def test_throttling_during_an_action_is_an_internal_error_frame(
    world: World, faults: Faults, logs: Records, action: str
) -> None:
    _setup(world)
    failing = []
    for operation in ("GetItem", "Query", "PutItem", "DeleteItem", "UpdateItem"):
        faults.clear()
        faults.calls.clear()
        logs.records.clear()
        assert world.act("c1", {"action": "joinRoom", "roomId": "lobby"})["type"] == "ack"
        faults.on(operation, _throttle())
        out = _call(world, action)
        assert set(out) == {"statusCode", "body"} and out["statusCode"] == 200
        frame = json.loads(out["body"])
        if operation not in faults.calls:  # the action does not use this operation
            assert frame["type"] == "ack", frame
            continue
        failing.append(operation)
        assert frame == {
            "type": "error",
            "action": action,
            "requestId": "req-1",
            "code": "internal_error",
            "message": "the server could not process the request; retry later",
        }
        assert "Throughput" not in out["body"] and "Traceback" not in out["body"]
        (failed,) = [r for r in logs.records if r.getMessage() == "action failed"]
        assert failed.levelno == logging.ERROR and failed.exc_info is not None
        assert "ProvisionedThroughputExceededException" in str(failed.exc_info[1])
    assert "GetItem" in failing  # every action first reads the caller's connection


def test_a_throttled_join_leaves_the_table_as_it_was(world: World, faults: Faults) -> None:
    _setup(world)
    before = moto_table_items(world.table)
    faults.on("PutItem", _throttle())
    out = world.call(
        "join_room",
        ws_event("message", "c1", "alice", "acme", {"action": "joinRoom", "roomId": "b"}),
    )
    assert json.loads(out["body"])["code"] == "internal_error"
    assert moto_table_items(world.table) == before
    faults.clear()  # throttling over: the retry by the client succeeds
    again = world.act("c1", {"action": "joinRoom", "roomId": "b"})
    assert again["type"] == "ack" and again["members"] == [{"userId": "alice"}]


def test_disconnect_retries_unprocessed_batch_items(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = _record_batch_sleeps(monkeypatch)
    world.connect("c1", "alice", "acme")
    for i in range(30):  # two BatchWriteItem calls: 25 + 5
        world.act("c1", {"action": "joinRoom", "roomId": f"room-{i}"})

    def partial(n: int, params: dict[str, Any]) -> Any:
        """The first two calls process only 3 requests each and return the rest."""
        if n > 2:
            return None
        requests = params["RequestItems"][world.table]
        world.dynamodb.batch_write_item(RequestItems={world.table: requests[:3]})
        return 200, {"UnprocessedItems": {world.table: requests[3:]}}

    faults.on("BatchWriteItem", partial)
    world.disconnect("c1")
    assert [
        i for i in moto_table_items(world.table) if i.get("connectionId", {}).get("S") == "c1"
    ] == []
    # first chunk of 25: 3 done, 3 more done, then the other 19; second chunk of 5 at once
    assert faults.calls["BatchWriteItem"] == 4
    assert sleeps == [1.0, 2.0]  # the throttling backoff between unprocessed retries


def test_disconnect_gives_up_after_bounded_retries(
    world: World, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = _record_batch_sleeps(monkeypatch)
    world.connect("c1", "alice", "acme")
    world.act("c1", {"action": "joinRoom", "roomId": "lobby"})
    faults.on(
        "BatchWriteItem",
        lambda _n, p: (200, {"UnprocessedItems": p["RequestItems"]}),
    )
    with pytest.raises(RuntimeError, match="still unprocessed"):
        world.disconnect("c1")
    assert faults.calls["BatchWriteItem"] == 4
    assert sleeps == [1.0, 2.0, 4.0]  # between attempts only
    # nothing is half-deleted: the connection item stays, so its TTL expiry brings the
    # stream cleanup back to remove the membership and announce the leave
    left = [i for i in moto_table_items(world.table) if i.get("connectionId", {}).get("S") == "c1"]
    assert sorted((i["PK"]["S"], i["SK"]["S"]) for i in left) == [
        ("CONN#c1", "META"),
        ("ROOM#acme#lobby", "CONN#c1"),
    ]


def test_throttled_stream_cleanup_reports_the_record_for_retry(
    world: World, faults: Faults
) -> None:
    world.connect("c1", "alice", "acme")
    world.act("c1", {"action": "joinRoom", "roomId": "lobby"})
    key = {"PK": {"S": "CONN#c1"}, "SK": {"S": "META"}}
    image = world.dynamodb.delete_item(TableName=world.table, Key=key, ReturnValues="ALL_OLD")
    record = {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"OldImage": image["Attributes"], "SequenceNumber": "42"},
    }
    faults.on("Query", _throttle(1, 1))
    out = world.call("stream_cleanup", {"Records": [record]})
    assert out == {"batchItemFailures": [{"itemIdentifier": "42"}]}
    assert world.call("stream_cleanup", {"Records": [record]}) == {"batchItemFailures": []}
    assert [
        i for i in moto_table_items(world.table) if i.get("connectionId", {}).get("S") == "c1"
    ] == []
