"""The direct path: one encoded frame posted to many connections, every outcome counted.

It posts through the container's @connections client for the endpoint and reports which
targets are gone, so that the dispatcher prunes exactly those (never the sender). It does
not prune itself: the dispatcher decides, so cleanup can announce without recursion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wscore.aws.management import Outcome
from wscore.logs import get_logger, metric

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from wscore.aws.management import ManagementClient

log = get_logger("wscore.delivery.broadcast")


@dataclass(slots=True)
class DeliveryReport:
    """What happened to one frame sent to a set of connections.

    A delivery handed to the fan-out queue has only `queued_jobs`: the worker reports the
    per-recipient outcomes later, in its own metrics.
    """

    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    too_large: int = 0
    queued_jobs: int = 0
    requeued: int = 0  # failed recipients handed to the fan-out queue for a later attempt


class Broadcaster:
    """Sends frames to connections and accounts for every outcome."""

    def __init__(self, management_for: Callable[[str], ManagementClient]) -> None:
        self.management_for = management_for

    def deliver(
        self, endpoint: str, connection_ids: Iterable[str], data: bytes, *, kind: str
    ) -> DeliveryReport:
        """Post `data` to each connection; log delivered/gone/failed counts as a metric."""
        ids = list(dict.fromkeys(connection_ids))
        report = DeliveryReport()
        if not ids:
            return report
        outcomes = self.management_for(endpoint).post_many(ids, data)
        for cid, outcome in outcomes.items():
            if outcome is Outcome.DELIVERED:
                report.delivered += 1
            elif outcome is Outcome.GONE:
                report.gone.append(cid)
            elif outcome is Outcome.TOO_LARGE:
                report.too_large += 1
            else:
                report.failed.append(cid)
        metric(
            log,
            "broadcast",
            kind=kind,
            targets=len(ids),
            delivered=report.delivered,
            pruned=len(report.gone),
            failed=len(report.failed),
            too_large=report.too_large,
        )
        return report
