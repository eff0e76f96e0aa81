"""Cost model: DynamoDB requests, capacity units and @connections calls per operation.

One moto run drives the real handlers. Every DynamoDB and SQS call the handlers make is
counted through botocore's event system on the very clients `services()` built; the
@connections calls are counted by a recording transport (every post answers 200).

Capacity units: moto accepts ReturnConsumedCapacity but answers constants (1.0 or 0.5 per
call, whatever the item), so the units here are computed from item sizes with DynamoDB's
published rules instead: reads ceil(bytes / 4 KB) per request (x0.5 eventually consistent,
GSI queries always are), writes ceil(bytes / 1 KB) per item for the table plus the same
for each GSI the item is in (x2 when a write moves it between index keys). Item sizes
follow the documented formula (attribute names + values; numbers ~1 byte per 2 digits).
The 100-byte per-index-entry storage overhead is not a capacity charge and is ignored.

Rooms are seeded straight into the table (uncounted) so that a 1000-member room costs no
million presence posts to set up; each row then measures one client operation end to end,
including the fan-out worker runs its SQS jobs cause. Room history (protocol v1.1) is seeded
the same way, through `History.append` (the code `sendMessage` runs) on an uncounted client.

Rate limits (`rate_limit_rows`, `rate_limit_summary`): the rows above run with the limits
off, so that they show what a message itself costs (and compare with protocol v1's); the
rate-limit rows then send the same message with them on and report what the check adds.

Delivery continuity (`continuity_summary`): each persisted `sendMessage` row is paired with
the same message sent `"ephemeral": true` (the difference is what numbering and storing
cost), ephemeral rows are compared with protocol v1's figures (`V1_ROWS`), and a resume
after N missed messages is the `getHistory` calls a client makes (limit 100, as the clients
in this repository ask) until `hasMore` is false.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from tools.ws_events import FAR_FUTURE, ws_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

INDEX_KEYS = {"GSI1": "GSI1PK", "GSI2": "GSI2PK"}
ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
TENANT = "acme"

# Protocol v1's figures for the rows an ephemeral message is compared with: this model at
# 9f85d1f (the last v1 server), same rooms, same data (docs/PERFORMANCE.md).
V1_ROWS = {
    "send_to_10_direct": {"dynamodb_requests": 3, "read_units": 2.5, "write_units": 0.0},
    "send_to_1000_direct": {"dynamodb_requests": 3, "read_units": 25.0, "write_units": 0.0},
}
# Ephemeral row -> the v1 row it must equal.
EPHEMERAL_VS_V1 = {
    "send_to_10_ephemeral": "send_to_10_direct",
    "send_to_1000_ephemeral_direct": "send_to_1000_direct",
}
SMALL_DATA = {"text": "hello room"}  # 21 bytes of JSON
# Data sizes (compact JSON bytes) of the persisted/ephemeral pairs, beside the small one and
# the largest data whose stored entry still fits 1 KB (computed per run).
PAIR_DATA_BYTES = (1024, 4096)
# The target: a persisted message of <= 1 KB costs at most this many write units more than
# the same message sent ephemeral.
MAX_EXTRA_WRITE_UNITS = 2.0
HISTORY_PAGE_LIMIT = 100  # what the clients ask for when they resume (the protocol's maximum)
# sendMessage's limits (wscore.limits): off for the rows that measure a message itself.
RATE_LIMITS_OFF = {"RATE_LIMIT_CONNECTION_PER_SECOND": "0", "RATE_LIMIT_TENANT_PER_SECOND": "0"}
RATE_LIMIT_VARIABLES = (
    "RATE_LIMIT_CONNECTION_PER_SECOND",
    "RATE_LIMIT_CONNECTION_BURST",
    "RATE_LIMIT_TENANT_PER_SECOND",
    "RATE_LIMIT_TENANT_BURST",
)
RESUME_MISSED = (10, 100, 1000)


def attr_size(value: dict[str, Any]) -> int:  # noqa: PLR0911 - one return per type
    """The size DynamoDB bills for one attribute value."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attr_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(attr_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attr_size(v) + 1 for k, v in raw.items())
    raise ValueError(kind)


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attr_size(value) for name, value in item.items())


def data_of(size: int) -> dict[str, Any]:
    """A message's data whose compact JSON is exactly `size` bytes (>= 11)."""
    return {"text": "x" * (size - len('{"text":""}'))}


def largest_within(limit: int, size_of: Callable[[int], int], lo: int, hi: int) -> int:
    """The largest n in [lo, hi] with size_of(n) <= limit (size_of non-decreasing); lo - 1
    when even size_of(lo) exceeds it."""
    best = lo - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if size_of(mid) <= limit:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def stored_entry_bytes(data_bytes: int, room: str, user: str, seq: int, now: float) -> int:
    """The size of the history item a persisted message of this data is stored as, built
    by the code `sendMessage` runs (the frame with its seq, then the entry)."""
    from wscore.protocol import encode, iso_now, message_event
    from wscore.repository import HistoryEntry

    frame = encode(
        message_event(room, uuid.uuid4().hex, user, data_of(data_bytes), iso_now(now), seq=seq)
    )
    entry = HistoryEntry(TENANT, room, seq, frame, int(now * 1000), int(now) + 86400)
    return item_size(entry.to_item())


def write_units(old: dict[str, Any] | None, new: dict[str, Any] | None) -> float:
    """Table + GSI write units for replacing `old` by `new` (None: absent)."""
    size = max(item_size(old), item_size(new))
    units = float(max(1, math.ceil(size / 1024)))
    for key in INDEX_KEYS.values():
        before = (old or {}).get(key)
        after = (new or {}).get(key)
        if before is None and after is None:
            continue
        per = max(1, math.ceil(size / 1024))
        units += per * (2 if before is not None and after is not None and before != after else 1)
    return units


def consumed_units(  # noqa: PLR0911 - one return per operation
    op: str, params: dict[str, Any], result: dict[str, Any], old: Any, new: Any = None
) -> tuple[float, float]:
    """(read units, write units) one DynamoDB request consumes, from item sizes.

    `result` is the response (an `Error` key: the request failed, e.g. its condition; a
    failed UpdateItem is billed on the item as it stays); `old` the item before a write (a
    list of them, None for puts, for BatchWriteItem) and `new` the item after an UpdateItem.
    A Query is billed on the items it read, filtered out or not: their size is taken as the
    returned items' average (none returned: 1 unit).
    """
    if op == "GetItem":
        factor = 1.0 if params.get("ConsistentRead") else 0.5
        return factor * max(1, math.ceil(item_size(result.get("Item")) / 4096)), 0.0
    if op == "Query":
        items = result.get("Items", [])
        scanned = result.get("ScannedCount", len(items))
        avg = sum(item_size(i) for i in items) / len(items) if items else 0
        factor = 0.5 if params.get("IndexName") or not params.get("ConsistentRead") else 1.0
        return factor * max(1, math.ceil(avg * scanned / 4096)), 0.0
    if op == "BatchGetItem":
        reads = 0.0
        for table, items in result.get("Responses", {}).items():
            consistent = params["RequestItems"].get(table, {}).get("ConsistentRead")
            per = [max(1, math.ceil(item_size(i) / 4096)) for i in items]
            reads += (1.0 if consistent else 0.5) * sum(per)
        return reads, 0.0
    if op == "PutItem":
        return 0.0, write_units(old, params["Item"])
    if op == "UpdateItem":
        return 0.0, write_units(old, old if "Error" in result else new)
    if op == "DeleteItem":
        return 0.0, write_units(old, None)
    if op == "BatchWriteItem":
        requests = [r for reqs in params["RequestItems"].values() for r in reqs]
        writes = 0.0
        for req, before in zip(requests, old, strict=True):
            if "PutRequest" in req:
                writes += write_units(None, req["PutRequest"]["Item"])
            else:
                writes += write_units(before, None)
        return 0.0, writes
    return 0.0, 0.0


class Extras(dict[str, Any]):
    """What an action adds to its row (data and frame sizes, getHistory calls)."""


@dataclass
class Counter:
    dynamodb: dict[str, int] = field(default_factory=dict)
    read_units: float = 0.0
    write_units: float = 0.0
    sqs: dict[str, int] = field(default_factory=dict)
    sqs_messages: int = 0
    posts: int = 0
    deletes: int = 0
    worker_invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


class CountingTransport:
    max_concurrency = 8

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    def post(self, connection_id: str, data: bytes) -> int:
        with self.counter.lock:
            self.counter.posts += 1
        return 200

    def delete(self, connection_id: str) -> int:
        with self.counter.lock:
            self.counter.deletes += 1
        return 204


class Meter:
    """Hooks on a DynamoDB client: counts calls and computes the units they consume."""

    def __init__(self, counter: Counter, raw: Any, table: str) -> None:
        self.counter = counter
        self.raw = raw  # an uninstrumented client on the same emulated table
        self.table = table
        self.pending: list[tuple[str, dict[str, Any], Any]] = []

    def attach_dynamodb(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def attach_sqs(self, client: Any) -> None:
        client.meta.events.register("after-call.sqs", self._sqs)

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.raw.get_item(TableName=self.table, Key=key).get("Item")
        return item

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        op = model.name
        snapshot: Any = None
        if op in ("UpdateItem", "DeleteItem"):
            snapshot = self._get(params["Key"])
        elif op == "PutItem":
            snapshot = self._get({"PK": params["Item"]["PK"], "SK": params["Item"]["SK"]})
        elif op == "BatchWriteItem":
            snapshot = [
                self._get(r["DeleteRequest"]["Key"]) if "DeleteRequest" in r else None
                for reqs in params["RequestItems"].values()
                for r in reqs
            ]
        self.pending.append((op, params, snapshot))

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        op, params, old = self.pending.pop()
        c = self.counter
        c.dynamodb[op] = c.dynamodb.get(op, 0) + 1
        new = None
        if op == "UpdateItem":
            new = self._get(params["Key"]) if "Error" not in parsed else old
        reads, writes = consumed_units(op, params, parsed, old, new)
        c.read_units += reads
        c.write_units += writes

    def _sqs(self, parsed: dict[str, Any], model: Any, params: Any = None, **_: Any) -> None:
        c = self.counter
        c.sqs[model.name] = c.sqs.get(model.name, 0) + 1
        if model.name == "SendMessageBatch":
            c.sqs_messages += len(parsed.get("Successful", []))
        elif model.name == "SendMessage":
            c.sqs_messages += 1


@contextmanager
def emulated(counter: Counter) -> Iterator[dict[str, Any]]:
    """A moto deployment with counting clients wired into `services()`."""
    import boto3
    from moto import mock_aws

    from tools.aws_local import create_queues, create_table, queue_environment

    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "TABLE_NAME": "ws-cost",
        "MANAGEMENT_ENDPOINT": ENDPOINT,
        "LOG_LEVEL": "ERROR",
        # Requests are counted on a botocore client (moto intercepts it in-process); the
        # production client sends exactly the same requests.
        "DYNAMODB_TRANSPORT": "boto3",
    }
    kept = [*env, "FANOUT_THRESHOLD", "FANOUT_QUEUE_URL", *RATE_LIMIT_VARIABLES]
    saved = {k: os.environ.get(k) for k in kept}
    os.environ.update(env)
    from wscore import config, services
    from wscore.aws import management

    transport = CountingTransport(counter)

    def counting(endpoint: str) -> management.ManagementClient:
        return management.ManagementClient(transport, endpoint)

    namespace = vars(services)  # services() resolves management_client from its module
    original = namespace["management_client"]
    namespace["management_client"] = counting
    try:
        with mock_aws():
            raw = boto3.client("dynamodb")
            sqs = boto3.client("sqs")
            create_table(raw, "ws-cost")
            queues = queue_environment(create_queues(sqs, "ws-cost"))
            os.environ.update(queues)
            yield {"raw": raw, "sqs": sqs, "queues": queues, "config": config, "svc": services}
    finally:
        namespace["management_client"] = original
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        config.get_config.cache_clear()
        services.services.cache_clear()


class Driver:
    """Runs client operations through the handlers and returns what each one cost."""

    def __init__(self, world: dict[str, Any], counter: Counter) -> None:
        self.world = world
        self.counter = counter
        self.meter = Meter(counter, world["raw"], "ws-cost")
        self.threshold(100)

    def threshold(self, value: int) -> None:
        """Rebuild the services with another FANOUT_THRESHOLD and re-attach the meters."""
        self.configure(FANOUT_THRESHOLD=str(value))

    def configure(self, **env: str | None) -> None:
        """Rebuild the services (a fresh container) with these variables (None: unset) and
        re-attach the meters."""
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.world["config"].get_config.cache_clear()
        self.world["svc"].services.cache_clear()
        svc = self.world["svc"].services()
        self.meter.attach_dynamodb(svc.repo._db)
        if svc.dispatch._fanout is not None:
            self.meter.attach_sqs(svc.dispatch._fanout._sqs)

    def call(self, module: str, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = importlib.import_module(module).handler(event, None)
        return result

    def seed_room(self, room: str, members: int, prefix: str) -> list[str]:
        """Connections + memberships written directly (not counted)."""
        from wscore.repository import Connection, Membership, Repository

        repo = Repository(self.world["raw"], "ws-cost")
        ids = []
        for i in range(members):
            cid = f"{prefix}{i:05d}AbCdEfG="
            user = f"{prefix}-user-{i}"
            repo.put_connection(
                Connection(cid, TENANT, user, 1, FAR_FUTURE, FAR_FUTURE, FAR_FUTURE, ENDPOINT)
            )
            repo.put_membership(Membership(TENANT, room, cid, user, 1, FAR_FUTURE, FAR_FUTURE))
            ids.append(cid)
        return ids

    def drain_fanout(self) -> None:
        """Run the fan-out worker on every queued job, 10 records per invocation (the ESM)."""
        sqs, url = self.world["sqs"], self.world["queues"]["FANOUT_QUEUE_URL"]
        while True:
            out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages = out.get("Messages", [])
            if not messages:
                return
            records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
            self.counter.worker_invocations += 1
            result = self.call("fanout_worker", {"Records": records})
            assert result == {"batchItemFailures": []}, result
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def measure(self, operation: str, action: Callable[[], Any]) -> dict[str, Any]:
        """One row; an action that returns `Extras` adds them to the row."""
        self.counter.reset()
        extra = action()
        self.drain_fanout()
        c = self.counter
        return {
            "operation": operation,
            "dynamodb_requests": sum(c.dynamodb.values()),
            "read_units": round(c.read_units, 1),
            "write_units": round(c.write_units, 1),
            "management_calls": c.posts + c.deletes,
            "sqs_requests": sum(c.sqs.values()),
            "sqs_messages": c.sqs_messages,
            "worker_invocations": c.worker_invocations,
            "dynamodb_by_operation": dict(sorted(c.dynamodb.items())),
            "units": "computed from item sizes (moto reports constant capacity)",
            **(extra if isinstance(extra, Extras) else {}),
        }

    def message(self, cid: str, user: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run one client action through its handler; the ack (an error frame raises)."""
        reply = self.reply(cid, user, body)
        assert reply["type"] == "ack", reply
        return reply

    def refused(self, cid: str, user: str, body: dict[str, Any]) -> Extras:
        """A request the rate limits refuse (anything else raises)."""
        reply = self.reply(cid, user, body)
        assert reply.get("code") == "rate_limited", reply
        return Extras(retry_after_ms=reply["retryAfterMs"])

    def reply(self, cid: str, user: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run one client action through its handler; its reply frame."""
        out = self.call(
            {
                "joinRoom": "join_room",
                "sendMessage": "send_message",
                "getPresence": "get_presence",
                "getHistory": "get_history",
                "heartbeat": "heartbeat",
            }[body["action"]],
            ws_event("message", cid, user, TENANT, body),
        )
        assert out["statusCode"] == 200, out
        reply: dict[str, Any] = json.loads(out["body"])
        return reply

    def seed_history(self, room: str, count: int, data: Any = SMALL_DATA) -> int:
        """`count` messages stored through `History.append` (not counted); the latest seq."""
        from wscore.history import History
        from wscore.protocol import encode, iso_now, message_event
        from wscore.repository import Repository

        history = History(
            self.world["config"].get_config(), Repository(self.world["raw"], "ws-cost")
        )
        seq = 0
        for _ in range(count):
            now = time.time()
            message_id, sent_at = uuid.uuid4().hex, iso_now(now)

            def frame_for(seq: int, message_id: str = message_id, sent_at: str = sent_at) -> str:
                return encode(message_event(room, message_id, "seed", data, sent_at, seq=seq))

            seq, _ = history.append(TENANT, room, frame_for, now)
        return seq

    def send(self, cid: str, user: str, room: str, data: Any, ephemeral: bool) -> Extras:
        """sendMessage; the data and frame sizes, and for a persisted one the stored entry's."""
        body: dict[str, Any] = {"action": "sendMessage", "roomId": room, "data": data}
        if ephemeral:
            body["ephemeral"] = True
        ack = self.message(cid, user, body)
        assert ("seq" in ack) is not ephemeral, ack
        out = Extras(data_bytes=len(json.dumps(data, separators=(",", ":")).encode()))
        if not ephemeral:
            from wscore.repository import history_pk, seq_sk

            key = {"PK": {"S": history_pk(TENANT, room)}, "SK": {"S": seq_sk(ack["seq"])}}
            item = self.world["raw"].get_item(TableName="ws-cost", Key=key)["Item"]
            out["frame_bytes"] = len(item["frame"]["S"].encode())
            out["history_item_bytes"] = item_size(item)
        return out

    def history(self, cid: str, user: str, room: str, after_seq: int | None, limit: int) -> Extras:
        """One getHistory call; the row's extras: calls, messages, hasMore."""
        body: dict[str, Any] = {"action": "getHistory", "roomId": room, "limit": limit}
        if after_seq is not None:
            body["afterSeq"] = after_seq
        ack = self.message(cid, user, body)
        return Extras(calls=1, messages=len(ack["messages"]), has_more=ack["hasMore"])

    def resume(self, cid: str, user: str, room: str, after_seq: int) -> Extras:
        """What a client's resume costs: getHistory pages until hasMore is false."""
        calls = messages = 0
        while True:
            body = {"action": "getHistory", "roomId": room, "afterSeq": after_seq}
            ack = self.message(cid, user, {**body, "limit": HISTORY_PAGE_LIMIT})
            calls += 1
            messages += len(ack["messages"])
            if ack["messages"]:
                after_seq = ack["messages"][-1]["seq"]
            if not ack["hasMore"]:
                return Extras(calls=calls, messages=messages)


def scan_sample_row(total_connections: int = 10_000, id_len: int = 16) -> dict[str, Any]:
    """The AWS sample (simple-websockets-chat-app): Scan every connection on each message.

    Its items hold one attribute, `connectionId`; a Scan reads every item (1 MB per page)
    and the message goes to every connection of the deployment, not of a room.
    """
    size = len(b"connectionId") + id_len
    total = size * total_connections
    pages = max(1, math.ceil(total / (1024 * 1024)))
    return {
        "operation": f"aws_sample_send_scan_{total_connections}",
        "dynamodb_requests": pages,
        "read_units": round(0.5 * math.ceil(total / 4096), 1),
        "write_units": 0.0,
        "management_calls": total_connections - 1,
        "sqs_requests": 0,
        "sqs_messages": 0,
        "worker_invocations": 0,
        "units": f"computed: {total_connections} items x {size} B, eventually consistent Scan",
    }


# The largest room `measure_workload` seeds; above it, per-recipient counts are scaled.
MEASURED_ROOM_CAP = 1000
DEFAULT_FANOUT_THRESHOLD = 100  # the module's default (variable fanout_threshold)


def measure_workload(
    room_size: int, fanout_threshold: int = DEFAULT_FANOUT_THRESHOLD
) -> dict[str, dict[str, Any]]:
    """What one of each operation a workload is made of costs, in a room of `room_size`
    members (the sender or joiner included), through the real handlers.

    connect, join (presence to the others), send (a message to the others; through the
    fan-out queue above the threshold, worker runs included), heartbeat (of a member of one
    room) and disconnect (leaving that room). Metric lines the handlers print are swallowed.
    """
    import contextlib
    import io

    members = max(2, min(room_size, MEASURED_ROOM_CAP))
    counter = Counter()
    rows: dict[str, dict[str, Any]] = {}
    with contextlib.redirect_stdout(io.StringIO()), emulated(counter) as world:
        d = Driver(world, counter)
        d.threshold(fanout_threshold)
        ev = ws_event
        rows["connect"] = d.measure("connect", lambda: d.call("connect", ev("connect", "n1=", "u")))
        others = d.seed_room("room", members - 1, "m")
        d.call("connect", ev("connect", "joiner=", "jo", TENANT))
        join = {"action": "joinRoom", "roomId": "room"}
        rows["join"] = d.measure("join", lambda: d.message("joiner=", "jo", join))
        send = {"action": "sendMessage", "roomId": "room", "data": {"text": "x" * 120}}
        rows["send"] = d.measure("send", lambda: d.message("joiner=", "jo", send))
        beat = {"action": "heartbeat"}
        rows["heartbeat"] = d.measure("heartbeat", lambda: d.message("joiner=", "jo", beat))
        rows["disconnect"] = d.measure(
            "disconnect", lambda: d.call("disconnect", ev("disconnect", "joiner=", "jo", TENANT))
        )
        del others
    scale = (room_size - 1) / (members - 1) if room_size > members else 1.0
    for name in ("join", "send", "disconnect"):
        row = rows[name]
        row["measured_room_size"] = members
        if scale != 1.0:  # per-recipient work grows with the room; the rest does not
            row["management_calls"] = round(row["management_calls"] * scale)
            row["read_units"] = round(row["read_units"] * scale, 1)
            row["sqs_messages"] = math.ceil(row["sqs_messages"] * scale)
            row["sqs_requests"] = math.ceil(row["sqs_requests"] * scale)
            row["worker_invocations"] = math.ceil(row["worker_invocations"] * scale)
            row["scaled_from"] = members
    return rows


def run() -> list[dict[str, Any]]:
    import contextlib
    import io

    counter = Counter()
    rows: list[dict[str, Any]] = []
    # The handlers' metric lines go to stdout whatever LOG_LEVEL says: not into the report.
    with contextlib.redirect_stdout(io.StringIO()), emulated(counter) as world:
        d = Driver(world, counter)
        d.configure(**RATE_LIMITS_OFF)
        ev = ws_event
        rows.append(
            d.measure("connect", lambda: d.call("connect", ev("connect", "new-1=", "zoe", TENANT)))
        )
        d.seed_room("r10", 10, "a")
        d.call("connect", ev("connect", "joiner=", "jo", TENANT))
        rows.append(
            d.measure(
                "join_room_of_10",
                lambda: d.message("joiner=", "jo", {"action": "joinRoom", "roomId": "r10"}),
            )
        )
        sender_10 = "joiner="  # now a member: 10 other members
        send = {"action": "sendMessage", "roomId": "r10", "data": SMALL_DATA}
        rows.append(
            d.measure(
                "send_to_10_direct", lambda: d.send(sender_10, "jo", "r10", SMALL_DATA, False)
            )
        )
        d.threshold(5)
        rows.append(d.measure("send_to_10_sqs", lambda: d.message(sender_10, "jo", send)))
        d.threshold(100)
        members = d.seed_room("r1000", 1001, "b")
        big = {"action": "sendMessage", "roomId": "r1000", "data": {"text": "hello room"}}
        rows.append(d.measure("send_to_1000_sqs", lambda: d.message(members[0], "b-user-0", big)))
        d.threshold(100_000)
        rows.append(
            d.measure("send_to_1000_direct", lambda: d.message(members[0], "b-user-0", big))
        )
        d.threshold(100)
        for r in range(5):
            d.seed_room(f"five{r}", 3, f"c{r}")
        d.call("connect", ev("connect", "leaver=", "lee", TENANT))
        for r in range(5):
            d.message("leaver=", "lee", {"action": "joinRoom", "roomId": f"five{r}"})
        rows.append(
            d.measure(
                "disconnect_from_5_rooms_of_4",
                lambda: d.call("disconnect", ev("disconnect", "leaver=", "lee", TENANT)),
            )
        )
        rows.append(
            d.measure(
                "presence_room_of_11",
                lambda: d.message(sender_10, "jo", {"action": "getPresence", "roomId": "r10"}),
            )
        )
        rows += continuity_rows(d, sender_10, members[0])
        rows += rate_limit_rows(d, sender_10)
    rows.append(scan_sample_row())
    return rows


def rate_limit_rows(d: Driver, sender_10: str) -> list[dict[str, Any]]:
    """send_to_10_direct again with the limits on, in each state of the tenant's bucket.

    The tenant may send 1 per second in bursts of 100, so that its bucket stays bursting
    from one row to the next whatever moto's speed (an idle bucket is the first row).
    """
    send = {"action": "sendMessage", "roomId": "r10", "data": SMALL_DATA}
    tenant = {"RATE_LIMIT_TENANT_PER_SECOND": "1", "RATE_LIMIT_TENANT_BURST": "100"}
    d.configure(**(dict.fromkeys(RATE_LIMIT_VARIABLES) | tenant))  # the connection's defaults
    rows = [
        d.measure("send_to_10_rate_limited_idle_bucket", lambda: d.message(sender_10, "jo", send)),
        d.measure("send_to_10_rate_limited_bursting", lambda: d.message(sender_10, "jo", send)),
    ]
    d.configure()  # a new container: it guesses "idle" for a bucket that is bursting
    rows.append(
        d.measure("send_to_10_rate_limited_wrong_guess", lambda: d.message(sender_10, "jo", send))
    )
    d.configure(RATE_LIMIT_TENANT_BURST="1")  # the bucket is seconds ahead: over the limit
    rows.append(d.measure("send_refused_by_the_tenant", lambda: d.refused(sender_10, "jo", send)))
    one_token = {"RATE_LIMIT_CONNECTION_PER_SECOND": "1", "RATE_LIMIT_CONNECTION_BURST": "1"}
    d.configure(**(RATE_LIMITS_OFF | one_token))
    d.message(sender_10, "jo", send)  # the connection's only token
    rows.append(
        d.measure("send_refused_by_the_connection", lambda: d.refused(sender_10, "jo", send))
    )
    d.configure(**RATE_LIMITS_OFF)
    return rows


def rate_limit_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each rate-limit row beside send_to_10_direct, the same message with the limits off
    (a refused message costs less than a sent one: its extras are negative)."""
    by = {r["operation"]: r for r in rows}
    base = by.get("send_to_10_direct")
    if base is None:
        return []
    keys = ("dynamodb_requests", "write_units", "management_calls")
    return [
        {
            "operation": row["operation"],
            **{k: row[k] for k in keys},
            **{f"extra_{k}": round(row[k] - base[k], 1) for k in keys},
        }
        for row in rows
        if row["operation"].startswith(("send_to_10_rate_limited_", "send_refused_by_"))
    ]


def continuity_rows(d: Driver, sender_10: str, sender_1000: str) -> list[dict[str, Any]]:
    """Protocol v1.1: persisted vs ephemeral sends, getHistory pages, resumes."""
    rows: list[dict[str, Any]] = []
    # The small pair: send_to_10_direct (persisted) was measured above with SMALL_DATA.
    rows.append(
        d.measure("send_to_10_ephemeral", lambda: d.send(sender_10, "jo", "r10", SMALL_DATA, True))
    )
    d.threshold(100_000)
    rows.append(
        d.measure(
            "send_to_1000_ephemeral_direct",
            lambda: d.send(sender_1000, "b-user-0", "r1000", SMALL_DATA, True),
        )
    )
    d.threshold(100)
    # The largest data whose stored entry fits 1 KB, at the seq the next persisted message
    # gets, with clock readings of the most digits (numbers are billed by digits, zeros at
    # either end dropped), so that the real send cannot store a larger entry.
    seq = d.message(sender_10, "jo", {"action": "joinRoom", "roomId": "r10"})["latestSeq"] + 1
    now = int(time.time()) // 10 * 10 + 1.123
    fits = largest_within(1024, lambda n: stored_entry_bytes(n, "r10", "jo", seq, now), 11, 1024)
    for label, size in (("entry_fits_1KB", fits), *((f"data_{n}B", n) for n in PAIR_DATA_BYTES)):
        for kind in ("persisted", "ephemeral"):  # persisted first: it gets `seq`
            rows.append(
                d.measure(
                    f"send_to_10_{kind}_{label}",
                    partial(d.send, sender_10, "jo", "r10", data_of(size), kind == "ephemeral"),
                )
            )
    # getHistory: 200 small messages stored; the reader is a member of another room (a
    # token allowing the room is enough).
    d.seed_history("h200", 200)
    rows.append(
        d.measure(
            "history_page_50_of_200_after_seq_100",
            lambda: d.history(sender_10, "jo", "h200", 100, 50),
        )
    )
    rows.append(
        d.measure("history_latest_50_of_200", lambda: d.history(sender_10, "jo", "h200", None, 50))
    )
    latest = d.seed_history("resume", max(RESUME_MISSED) + 100)
    for missed in RESUME_MISSED:
        rows.append(
            d.measure(
                f"resume_after_{missed}_missed",
                partial(d.resume, sender_10, "jo", "resume", latest - missed),
            )
        )
    latest = d.seed_history("resume1k", 200, data_of(1024))
    rows.append(
        d.measure(
            "resume_after_100_missed_data_1024B",
            lambda: d.resume(sender_10, "jo", "resume1k", latest - 100),
        )
    )
    return rows


def continuity_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Persisted minus ephemeral per message size, ephemeral vs v1, and the targets."""
    by = {r["operation"]: r for r in rows}
    keys = ("dynamodb_requests", "read_units", "write_units")
    pairs = [("send_to_10_direct", "send_to_10_ephemeral")]
    pairs += [
        (name, name.replace("_persisted_", "_ephemeral_"))
        for name in by
        if name.startswith("send_to_10_persisted_")
    ]
    extra = []
    for persisted, ephemeral in pairs:
        if persisted not in by or ephemeral not in by:
            continue
        p, e = by[persisted], by[ephemeral]
        extra.append(
            {
                "data_bytes": p["data_bytes"],
                "frame_bytes": p.get("frame_bytes"),
                "history_item_bytes": p.get("history_item_bytes"),
                **{f"extra_{k}": round(p[k] - e[k], 1) for k in keys},
            }
        )
    extra.sort(key=lambda x: x["data_bytes"])
    v1 = []
    for ephemeral, v1_name in EPHEMERAL_VS_V1.items():
        if ephemeral in by:
            now, then = by[ephemeral], V1_ROWS[v1_name]
            v1.append(
                {
                    "operation": ephemeral,
                    "v1_operation": v1_name,
                    **{k: now[k] for k in keys},
                    **{f"v1_{k}": then[k] for k in keys},
                    "same": all(now[k] == then[k] for k in keys),
                }
            )
    within = [x for x in extra if x["data_bytes"] <= 1024]
    fits = [x for x in within if (x["history_item_bytes"] or 0) <= 1024]
    resumes = [
        {
            "operation": r["operation"],
            "calls": r["calls"],
            "messages": r["messages"],
            **{k: r[k] for k in keys},
            "read_units_per_message": round(r["read_units"] / max(1, r["messages"]), 3),
        }
        for r in rows
        if r["operation"].startswith("resume_after_")
    ]
    return {
        "persisted_minus_ephemeral": extra,
        "ephemeral_vs_v1": v1,
        "resume": resumes,
        "targets": {
            "max_extra_write_units_data_le_1kb": max(
                (x["extra_write_units"] for x in within), default=None
            ),
            "extra_write_units_target_met": bool(within)
            and all(x["extra_write_units"] <= MAX_EXTRA_WRITE_UNITS for x in within),
            "largest_data_bytes_within_2_extra_write_units": max(
                (x["data_bytes"] for x in fits if x["extra_write_units"] <= MAX_EXTRA_WRITE_UNITS),
                default=None,
            ),
            "ephemeral_equals_v1": bool(v1) and all(x["same"] for x in v1),
        },
    }


if __name__ == "__main__":
    result = run()
    for row in result:
        print(json.dumps(row))
    print(json.dumps(continuity_summary(result), indent=2))
