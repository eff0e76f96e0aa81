"""The single entry to delivery: direct posts or SQS fan-out, and pruning of gone targets.

Room messages, presence announcements, server-side publish, fan-out jobs and the closing
of a connection all go through the `Dispatcher`, so the threshold, the pruning and the
retry rules are the same for every frame the platform sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wscore.delivery.broadcast import DeliveryReport
from wscore.delivery.fanout import MAX_ATTEMPTS, FanoutJob, split_jobs
from wscore.errors import InvalidRequest
from wscore.logs import get_logger, metric

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from wscore.config import Config
    from wscore.delivery.broadcast import Broadcaster
    from wscore.delivery.fanout import FanoutQueue

    OnGone = Callable[[list[str], str, int], object]


log = get_logger("wscore.delivery.dispatch")


class Dispatcher:
    """Delivers a frame to a target list, directly or through the fan-out queue."""

    def __init__(
        self, config: Config, broadcaster: Broadcaster, fanout: FanoutQueue | None
    ) -> None:
        self._config = config
        self._broadcaster = broadcaster
        self._fanout = fanout
        # Cleanup of gone targets (Connections.cleanup), wired by the service graph: cleanup
        # itself announces presence through this dispatcher.
        self.on_gone: OnGone | None = None

    def deliver(
        self,
        endpoint: str,
        targets: Sequence[str],
        frame: str,
        kind: str,
        now: int,
        *,
        prune: bool = True,
    ) -> DeliveryReport:
        """Deliver now, or enqueue fan-out jobs above the threshold (`queued_jobs`).

        With `prune` (the default) the targets found gone are cleaned up here; cleanup
        passes False and handles the `gone` list itself, so that one loop bounds the work.
        """
        if len(targets) > self._config.fanout_threshold and self._fanout is not None:
            jobs = split_jobs(endpoint, frame, list(targets), kind)
            return DeliveryReport(queued_jobs=self._fanout.enqueue(jobs))
        report = self._broadcaster.deliver(endpoint, targets, frame.encode(), kind=kind)
        if prune and report.gone and self.on_gone is not None:
            self.on_gone(report.gone, endpoint, now)
        if report.failed:
            self._hand_over(report, endpoint, frame, kind, attempt=0)
        return report

    def _hand_over(
        self, report: DeliveryReport, endpoint: str, frame: str, kind: str, *, attempt: int
    ) -> None:
        """Recipients still failing after the in-process retries (429, 5xx, network) go to
        the fan-out queue with a delay, attempt after attempt; after the last one they are
        counted as abandoned (metric) and the caller raises, so the job ends in the DLQ."""
        if self._fanout is not None and attempt + 1 < MAX_ATTEMPTS:
            retry = split_jobs(endpoint, frame, report.failed, kind, attempt + 1)
            self._fanout.enqueue(retry, delay_s=2 ** (attempt + 1))
            report.requeued = len(report.failed)
            return
        metric(log, "delivery_abandoned", kind=kind, recipients=len(report.failed))

    def close(self, endpoint: str, connection_id: str, frame: str | None = None) -> None:
        """Send a last frame (the reason), then close the socket (idempotent if gone)."""
        management = self._broadcaster.management_for(endpoint)
        if frame is not None:
            management.post(connection_id, frame.encode())
        management.delete(connection_id)

    def run_job(self, body: str, now: int) -> DeliveryReport:
        """Deliver one fan-out job; re-enqueue only the recipients that failed.

        Raises when the job is malformed, comes from another endpoint, or has used all its
        attempts: the SQS record is then reported as failed and ends in the DLQ.
        """
        job = FanoutJob.from_body(body)
        expected = self._config.management_endpoint
        if expected and job.endpoint != expected:
            raise InvalidRequest("fan-out job targets an endpoint this worker does not serve")
        report = self._broadcaster.deliver(
            job.endpoint, job.recipients, job.frame.encode(), kind=job.kind
        )
        if report.gone and self.on_gone is not None:
            self.on_gone(report.gone, job.endpoint, now)
        if report.failed:
            self._hand_over(report, job.endpoint, job.frame, job.kind, attempt=job.attempt)
            if not report.requeued:
                raise RuntimeError(f"{len(report.failed)} recipients still failing")
        return report
