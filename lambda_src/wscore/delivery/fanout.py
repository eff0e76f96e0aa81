"""Large broadcasts through SQS: recipient batches written by us, delivered by a worker.

A job carries one encoded frame and a slice of recipients. The worker posts to them; on a
partial failure it enqueues a *new* job holding only the failed recipients (with a delay),
so a retry never re-sends to recipients that already got the frame. Jobs that keep failing,
or that are malformed, are reported as batch item failures and end in the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wscore.errors import InvalidRequest
from wscore.protocol import encode

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

JOB_VERSION = 1
MAX_JOB_BYTES = 200 * 1024  # SQS allows 256 KB per message and per batch call
MAX_BATCH_BYTES = 250 * 1024
MAX_RECIPIENTS_PER_JOB = 1000
MAX_ATTEMPTS = 4
_KINDS = {"message", "presence", "event"}


@dataclass(frozen=True, slots=True)
class FanoutJob:
    """One SQS message: a frame and the connections it still has to reach."""

    endpoint: str
    frame: str
    recipients: tuple[str, ...]
    kind: str = "message"
    attempt: int = 0

    def to_body(self) -> str:
        """The SQS body. The frame (our own compact JSON object) is embedded as a JSON value.

        Embedded as a JSON *string* it would be escaped once more: every quote or backslash
        a client put in its message (already `\\"` in the frame) would cost 4 bytes, so a
        128 KB frame could make a ~256 KB job, over the SQS limit, one job per recipient.
        """
        head = json.dumps(
            {
                "v": JOB_VERSION,
                "endpoint": self.endpoint,
                "recipients": list(self.recipients),
                "kind": self.kind,
                "attempt": self.attempt,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return f'{head[:-1]},"frame":{self.frame}}}'

    @classmethod
    def from_body(cls, body: str) -> FanoutJob:
        """Parse a job strictly: the worker trusts nothing it did not write itself."""
        try:
            data: Any = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidRequest("fan-out job is not JSON") from None
        if not isinstance(data, dict) or data.get("v") != JOB_VERSION:
            raise InvalidRequest("fan-out job has an unknown version")
        endpoint, frame = data.get("endpoint"), data.get("frame")
        recipients, kind, attempt = data.get("recipients"), data.get("kind"), data.get("attempt")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise InvalidRequest("fan-out job has no valid endpoint")
        frame = _frame_text(frame)
        if (
            not isinstance(recipients, list)
            or not 0 < len(recipients) <= MAX_RECIPIENTS_PER_JOB
            or not all(isinstance(r, str) and 0 < len(r) <= 128 for r in recipients)
        ):
            raise InvalidRequest("fan-out job has invalid recipients")
        if isinstance(attempt, bool) or not isinstance(attempt, int):
            raise InvalidRequest("fan-out job has an invalid attempt")
        if kind not in _KINDS or not 0 <= attempt <= MAX_ATTEMPTS:
            raise InvalidRequest("fan-out job has an invalid kind or attempt")
        return cls(endpoint, frame, tuple(recipients), kind, attempt)


def _frame_text(frame: object) -> str:
    """The embedded frame object as compact JSON text."""
    if not isinstance(frame, dict) or not frame:
        raise InvalidRequest("fan-out job has no frame")
    try:
        return encode(frame)
    except ValueError:  # NaN/Infinity: never written by us
        raise InvalidRequest("fan-out job has no frame") from None


def split_jobs(
    endpoint: str, frame: str, recipients: list[str], kind: str, attempt: int = 0
) -> list[FanoutJob]:
    """Slice recipients so that every job body stays well under the SQS message limit."""
    overhead = len(FanoutJob(endpoint, frame, (), kind, attempt).to_body().encode())
    jobs: list[FanoutJob] = []
    chunk: list[str] = []
    size = overhead
    for cid in recipients:
        cost = len(cid.encode()) + 3
        if chunk and (size + cost > MAX_JOB_BYTES or len(chunk) >= MAX_RECIPIENTS_PER_JOB):
            jobs.append(FanoutJob(endpoint, frame, tuple(chunk), kind, attempt))
            chunk, size = [], overhead
        chunk.append(cid)
        size += cost
    if chunk:
        jobs.append(FanoutJob(endpoint, frame, tuple(chunk), kind, attempt))
    return jobs


class FanoutQueue:
    """Writes jobs to the fan-out queue with SendMessageBatch."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def enqueue(self, jobs: list[FanoutJob], delay_s: int = 0) -> int:
        """Send jobs (10 per call, under 256 KB per call); raise if any is refused twice."""
        bodies = [job.to_body() for job in jobs]
        batch: list[str] = []
        batch_bytes = 0
        for body in bodies:
            size = len(body.encode())
            if batch and (len(batch) == 10 or batch_bytes + size > MAX_BATCH_BYTES):
                self.send(batch, delay_s)
                batch, batch_bytes = [], 0
            batch.append(body)
            batch_bytes += size
        if batch:
            self.send(batch, delay_s)
        return len(bodies)

    def send(self, bodies: list[str], delay_s: int = 0) -> None:
        """Send up to 10 bodies (under 256 KB in all) in one call; retry refused ones once."""
        entries = [
            {"Id": str(i), "MessageBody": body, "DelaySeconds": delay_s}
            for i, body in enumerate(bodies)
        ]
        for _ in range(2):
            out = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)  # type: ignore[arg-type]
            failed = {f["Id"] for f in out.get("Failed", [])}
            if not failed:
                return
            entries = [e for e in entries if e["Id"] in failed]
        raise RuntimeError(f"SQS refused {len(entries)} fan-out jobs twice")
