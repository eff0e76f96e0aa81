"""The cost of the rate-limit check per sendMessage (wscore.limits).

CPU: `RateLimiter.check` in a loop, in this process, median of `runs` rounds:
- `connection`: the in-container bucket alone (the tenant limit off): all a message costs
  when its tenant is not limited;
- `tenant_accepted` / `tenant_refused`: the tenant bucket against a stub DynamoDB client
  that answers at once (a made write, or a refused one returning the stored item), so the
  figure is the limiter's and the repository's own work; the DynamoDB client's CPU per
  call is the `dynamodb_client` figure of `make bench` (+ the network round trip).

Writes per sendMessage under load (`writes_per_message`): several containers' limiters
(each with its own cache) take turns at random on one tenant bucket in moto, messages
arriving at random (Poisson) at a given rate on a simulated clock; reported: the
conditional UpdateItems per message, accepted and refused. One message's rows, through
the real handlers: `bench.cost.rate_limit_rows`.

    python -m bench.rate_limits [--checks 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from wscore.errors import RateLimited
from wscore.events import Identity
from wscore.limits import Limit, RateLimiter, RateLimits
from wscore.repository import Repository

if TYPE_CHECKING:
    from collections.abc import Callable

OFF = Limit(0, 1)
WIDE = Limit(1000, 100_000)  # never refuses within a round
SHUT = Limit(1, 1)  # refuses all but the first
IDENTITY = Identity("bench", "bench-tenant", 4102444800)
NOW = 1_800_000_000.0


class StubDynamoDB:
    """UpdateItem answered at once: made (the new tat), or refused with the stored item."""

    def __init__(self, *, refuse: bool) -> None:
        self._refuse = refuse
        self._tat = int(NOW * 1000)

    def update_item(self, **params: Any) -> dict[str, Any]:
        if self._refuse:
            response: Any = {
                "Error": {"Code": "ConditionalCheckFailedException", "Message": "refused"},
                "Item": {"tat": {"N": str(self._tat + 60_000)}},  # as DynamoDB returns it
            }
            raise ClientError(response, "UpdateItem")
        self._tat += 1
        return {"Attributes": {"tat": {"N": str(self._tat)}}}


def _limiter(connection: Limit, tenant: Limit, *, refuse: bool = False) -> RateLimiter:
    repo = Repository(StubDynamoDB(refuse=refuse), "bench")  # type: ignore[arg-type]
    return RateLimiter(RateLimits(connection=connection, tenant=tenant), repo)


def cpu_us_per_check(limiter: RateLimiter, checks: int) -> float:
    """CPU microseconds per `check`. A refusal is caught, as the edge does, and its metric
    line is written (to a buffer here, to stdout in Lambda)."""
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.process_time()
        for _ in range(checks):
            with contextlib.suppress(RateLimited):
                limiter.check("conn-1", IDENTITY, NOW)
        return (time.process_time() - start) / checks * 1e6


def measure(checks: int = 20_000, runs: int = 5) -> list[dict[str, Any]]:
    """One row per case: median CPU microseconds per check over `runs` fresh limiters."""
    cases: dict[str, Callable[[], RateLimiter]] = {
        "connection": lambda: _limiter(WIDE, OFF),
        "tenant_accepted": lambda: _limiter(OFF, WIDE),
        "tenant_refused": lambda: _limiter(OFF, SHUT, refuse=True),
        "connection_and_tenant": lambda: _limiter(WIDE, WIDE),
    }
    rows = []
    for name, make in cases.items():
        cpu_us_per_check(make(), 1000)  # warm-up
        samples = [cpu_us_per_check(make(), checks) for _ in range(runs)]
        rows.append(
            {
                "case": name,
                "checks": checks,
                "runs": runs,
                "cpu_us_median": round(statistics.median(samples), 2),
                "cpu_us_min": round(min(samples), 2),
            }
        )
    return rows


class CountingClient:
    """A DynamoDB client counting UpdateItem calls."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.updates = 0

    def update_item(self, **params: Any) -> Any:
        self.updates += 1
        return self._client.update_item(**params)


def writes_per_message(
    rate: float, containers: int = 4, messages: int = 2000, seed: int = 7
) -> dict[str, Any]:
    """`messages` sendMessage checks of one tenant (the default limit, 100/s in bursts of
    200) arriving at `rate` per second, each in one of `containers` containers at random."""
    import random

    import boto3
    from moto import mock_aws

    from tools.aws_local import create_table

    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    with mock_aws():
        raw = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(raw, "bench-rate")
        client = CountingClient(raw)
        repo = Repository(client, "bench-rate")  # type: ignore[arg-type]
        limits = RateLimits(connection=OFF)
        fleet = [RateLimiter(limits, repo) for _ in range(containers)]
        now, refused = NOW, 0
        for _ in range(messages):
            now += rng.expovariate(rate)
            try:
                rng.choice(fleet).check("c", IDENTITY, now)
            except RateLimited:
                refused += 1
    return {
        "rate_per_s": rate,
        "containers": containers,
        "messages": messages,
        "refused": refused,
        "update_items_per_message": round(client.updates / messages, 3),
    }


def load(rates: tuple[float, ...] = (10, 90, 300)) -> list[dict[str, Any]]:
    """writes_per_message at a few rates against the default tenant limit (100/s)."""
    with contextlib.redirect_stdout(io.StringIO()):  # the refusals' metric lines
        return [writes_per_message(rate) for rate in rates]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps({"cpu": measure(args.checks, args.runs), "load": load()}, indent=2))


if __name__ == "__main__":
    main()
