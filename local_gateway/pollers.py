"""In-process event sources: SQS -> Lambda, DynamoDB stream -> Lambda, and the TTL sweeper.

Each runs in its own daemon thread with a stop event, and invokes handlers through the
shared LambdaRuntime, so they behave like Lambda's event source mappings:
- SQS: batches of up to batch_size, at most maximum_concurrency batches in flight, partial
  batch responses (only successes are deleted; failures come back after the visibility
  timeout and reach the DLQ after maxReceiveCount receives).
- Stream: records filtered with the manifest's filter, batches of up to batch_size, in
  order, failed batches retried from the reported item up to maximum_retry_attempts.
- TTL: moto never expires items; the sweeper deletes items whose TTL attribute is past and
  marks exactly those REMOVE records with the userIdentity DynamoDB's TTL sets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from local_gateway.events import sqs_event, stream_record
from local_gateway.filters import matches
from local_gateway.lambdas import HandlerError

if TYPE_CHECKING:
    from collections.abc import Callable

    from local_gateway.lambdas import LambdaRuntime
    from local_gateway.manifest import Function

log = logging.getLogger("local_gateway.pollers")

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
RETRY_S = 0.5  # pause after a failed poll


class Worker:
    """A daemon thread running `run_once` until stopped; errors are logged, not fatal.

    A failure while the emulator process is gone is not logged: the runner reports that
    once (`emulator_alive` is how a worker tells).
    """

    name = "worker"

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.emulator_alive: Callable[[], bool] = lambda: True
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Exception:
                # Wait first: an emulator that just died may not be reaped yet.
                if self.stop_event.wait(RETRY_S) or not self.emulator_alive():
                    return
                log.exception("%s: poll failed; retrying", self.name)

    def run_once(self) -> None:
        raise NotImplementedError


class SqsPoller(Worker):
    """Feeds one queue to its consumer function with ReportBatchItemFailures semantics."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        fn: Function,
        runtime: LambdaRuntime,
        region: str,
    ) -> None:
        self.name = f"sqs-{fn.name}"
        super().__init__()
        self.sqs, self.queue_url, self.queue_arn = sqs, queue_url, queue_arn
        self.fn, self.runtime, self.region = fn, runtime, region
        # In flight at once: the function's maximum_concurrency, but never more batches than
        # consumer threads (a received batch waiting for a thread would burn its visibility).
        slots = max(1, min(fn.maximum_concurrency, runtime.async_executor._max_workers))
        self._slots = threading.BoundedSemaphore(slots)

    def run_once(self) -> None:
        if not self._slots.acquire(timeout=0.5):
            return  # every slot busy: check the stop event, then wait again
        try:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.fn.batch_size),
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception:
            self._slots.release()
            raise
        if not messages:
            self._slots.release()
            return
        self.runtime.async_executor.submit(self._deliver, messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        try:
            event = sqs_event(messages, self.queue_arn, self.region)
            try:
                result = self.runtime.invoke_sync(self.fn, event)
            except HandlerError:
                return  # the whole batch becomes visible again after the timeout
            failed = _failed_ids(result)
            done = [m for m in messages if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done[start : start + 10])
                    ],
                )
            if failed:
                log.warning("%s: %d message(s) reported as failed", self.fn.name, len(failed))
        except Exception:
            log.exception("%s: delivering a batch failed", self.fn.name)
        finally:
            self._slots.release()


def _failed_ids(result: Any) -> set[str]:
    """Item ids from a partial batch response; a malformed response fails the whole batch."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return set()
    failures = result.get("batchItemFailures") or []
    return {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}


class TtlMarks:
    """Keys (and TTL values) of the items the sweeper deleted, awaiting their REMOVE record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, ...]] = Counter()

    @staticmethod
    def _key(keys: dict[str, Any], ttl_value: Any) -> tuple[str, ...]:
        return (*(f"{k}={v}" for k, v in sorted(keys.items())), f"ttl={ttl_value}")

    def add(self, keys: dict[str, Any], ttl_value: Any) -> None:
        with self._lock:
            self._pending[self._key(keys, ttl_value)] += 1

    def discard(self, keys: dict[str, Any], ttl_value: Any) -> None:
        with self._lock:
            key = self._key(keys, ttl_value)
            if self._pending[key] > 0:
                self._pending[key] -= 1

    def claim(self, keys: dict[str, Any], ttl_value: Any) -> bool:
        """True (once) when this REMOVE is one the sweeper made."""
        with self._lock:
            key = self._key(keys, ttl_value)
            if self._pending[key] > 0:
                self._pending[key] -= 1
                return True
            return False


class TtlSweeper(Worker):
    """Deletes expired items like DynamoDB's TTL process (but promptly)."""

    name = "ttl-sweeper"

    def __init__(
        self,
        *,
        dynamodb: Any,
        table: str,
        ttl_attribute: str,
        key_names: tuple[str, ...],
        marks: TtlMarks,
        interval_s: float,
    ) -> None:
        super().__init__()
        self.ddb, self.table, self.ttl = dynamodb, table, ttl_attribute
        self.key_names, self.marks, self.interval_s = key_names, marks, interval_s
        self.swept = 0

    def run_once(self) -> None:
        if self.stop_event.wait(self.interval_s):
            return
        self.sweep(int(time.time()))

    def sweep(self, now: int) -> int:
        """One pass: scan the emulated table (fine here: it is not product code)."""
        deleted = 0
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "#ttl <= :now",
            "ExpressionAttributeNames": {"#ttl": self.ttl},
            "ExpressionAttributeValues": {":now": {"N": str(now)}},
        }
        while True:
            page = self.ddb.scan(**kwargs)
            for item in page.get("Items", []):
                deleted += self._expire(item)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self.swept += deleted
        return deleted

    def _expire(self, item: dict[str, Any]) -> int:
        keys = {k: item[k] for k in self.key_names}
        ttl_value = item[self.ttl]
        self.marks.add(keys, ttl_value)
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key=keys,
                ConditionExpression="#ttl = :seen",
                ExpressionAttributeNames={"#ttl": self.ttl},
                ExpressionAttributeValues={":seen": ttl_value},
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            self.marks.discard(keys, ttl_value)  # refreshed or deleted meanwhile
            return 0
        except Exception:
            self.marks.discard(keys, ttl_value)
            raise
        return 1


class StreamPoller(Worker):
    """Reads the table's stream and feeds filtered batches to the stream consumer."""

    name = "stream"

    def __init__(
        self,
        *,
        streams: Any,
        stream_arn: str,
        fn: Function,
        runtime: LambdaRuntime,
        stream_filter: dict[str, Any],
        marks: TtlMarks,
        ttl_attribute: str,
        region: str,
    ) -> None:
        super().__init__()
        self.streams, self.stream_arn, self.fn, self.runtime = streams, stream_arn, fn, runtime
        self.filter, self.marks, self.ttl, self.region = stream_filter, marks, ttl_attribute, region
        self._iterators: dict[str, str | None] = {}
        self.delivered = 0

    def run_once(self) -> None:
        if not self._iterators:
            self._open_shards()
        progressed = False
        for shard, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard] = page.get("NextShardIterator")
            records = page.get("Records", [])
            if records:
                progressed = True
                self._process(records)
        if not progressed:
            self.stop_event.wait(0.1)

    def _open_shards(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"][
            "Shards"
        ]
        for shard in shards:
            self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
        if not shards:
            self.stop_event.wait(0.2)

    def mark(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add DynamoDB's TTL userIdentity to the REMOVE records the sweeper caused."""
        if record.get("eventName") != "REMOVE":
            return record
        ddb = record.get("dynamodb", {})
        old = ddb.get("OldImage", {})
        if self.ttl in old and self.marks.claim(ddb.get("Keys", {}), old[self.ttl]):
            return {**record, "userIdentity": dict(TTL_IDENTITY)}
        return record

    def _process(self, raw: list[dict[str, Any]]) -> None:
        records = [stream_record(self.mark(r), self.stream_arn, self.region) for r in raw]
        selected = [r for r in records if not self.filter or matches(self.filter, r)]
        size = max(1, self.fn.batch_size)
        for start in range(0, len(selected), size):
            self._deliver(selected[start : start + size])

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke in order; on failure retry from the failed record, then give up (logged)."""
        attempts = 0
        while batch and not self.stop_event.is_set():
            try:
                result = self.runtime.invoke_sync(self.fn, {"Records": batch})
                failed = _failed_ids(result)
            except HandlerError:
                failed = {batch[0]["dynamodb"].get("SequenceNumber", "")}
            if not failed:
                self.delivered += len(batch)
                return
            first = next(
                (i for i, r in enumerate(batch) if r["dynamodb"].get("SequenceNumber") in failed),
                0,
            )
            self.delivered += first
            batch = batch[first:]
            attempts += 1
            if attempts > self.fn.maximum_retry_attempts:
                log.error(
                    "%s: dropping %d record(s) after %d retries (AWS: on-failure destination)",
                    self.fn.name,
                    len(batch),
                    attempts - 1,
                )
                return
            self.stop_event.wait(min(2.0, 0.1 * 2**attempts))
