"""Choosing the delivery path (direct or SQS fan-out) and running fan-out jobs.

Every delivery goes through here, so the threshold, pruning and retry rules are the same
for room messages, presence events and server-side publish.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wscore.delivery.fanout import MAX_ATTEMPTS, FanoutJob, split_jobs
from wscore.errors import InvalidRequest

if TYPE_CHECKING:
    from wscore.config import Config
    from wscore.connections import Connections
    from wscore.delivery.broadcast import Broadcaster, DeliveryReport
    from wscore.delivery.fanout import FanoutQueue


class Dispatcher:
    """Delivers a frame to a target list, directly or through the fan-out queue."""

    def __init__(
        self,
        config: Config,
        broadcaster: Broadcaster,
        connections: Connections,
        fanout: FanoutQueue | None,
    ) -> None:
        self._config = config
        self._broadcaster = broadcaster
        self._connections = connections
        self._fanout = fanout

    def deliver(
        self, endpoint: str, targets: list[str], frame: str, kind: str, now: int
    ) -> DeliveryReport | int:
        """Direct delivery (returns the report) or enqueued jobs (returns their count).

        Above the threshold the caller is answered at once and the worker delivers.
        Gone connections found on the direct path are pruned here.
        """
        if len(targets) > self._config.fanout_threshold and self._fanout is not None:
            return self._fanout.enqueue(split_jobs(endpoint, frame, targets, kind))
        return self.deliver_now(endpoint, targets, frame, kind, now)

    def deliver_now(
        self, endpoint: str, targets: list[str] | tuple[str, ...], frame: str, kind: str, now: int
    ) -> DeliveryReport:
        report = self._broadcaster.deliver(endpoint, targets, frame.encode(), kind=kind)
        if report.gone:
            self._connections.cleanup(report.gone, endpoint, now)
        return report

    def run_job(self, body: str, now: int) -> DeliveryReport:
        """Deliver one fan-out job; re-enqueue only the recipients that failed.

        Raises when the job is malformed, comes from another endpoint, or has used all its
        attempts: the SQS record is then reported as failed and ends in the DLQ.
        """
        job = FanoutJob.from_body(body)
        expected = self._config.management_endpoint
        if expected and job.endpoint != expected:
            raise InvalidRequest("fan-out job targets an endpoint this worker does not serve")
        report = self.deliver_now(job.endpoint, job.recipients, job.frame, job.kind, now)
        if report.failed:
            if job.attempt + 1 >= MAX_ATTEMPTS or self._fanout is None:
                raise RuntimeError(f"{len(report.failed)} recipients still failing")
            retry = split_jobs(job.endpoint, job.frame, report.failed, job.kind, job.attempt + 1)
            self._fanout.enqueue(retry, delay_s=2 ** (job.attempt + 1))
        return report
