"""Fair rate limits on sendMessage: GCRA token buckets per connection and per tenant.

GCRA (the generic cell rate algorithm) keeps a token bucket as one number, its theoretical
arrival time `tat`. With an emission interval T = 1000 / per_second ms and a tolerance
tau = (burst - 1) x T, a request at `now` conforms when max(tat, now) - now <= tau, and then
moves tat to max(tat, now) + T; otherwise it may retry after max(tat, now) - tau - now ms.
Times are integer milliseconds and the clock is the caller's (`now_ms`), so every decision
here is a pure function of its inputs.

Where the buckets live (docs/ARCHITECTURE.md, "Rate limits"):
- per connection, in this container (`ConnectionBuckets`): no DynamoDB cost. Each warm
  container enforces the whole limit, so a connection whose frames are spread over k
  concurrent containers can reach k x the limit (the tenant limit still bounds it);
- per tenant, exactly, on one item per tenant in the table (`TenantBuckets`): one
  conditional UpdateItem per sendMessage when this container guesses the bucket's state
  right, a second one when it guesses wrong.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

from wscore.errors import RateLimited
from wscore.logs import get_logger, metric

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wscore.events import Identity
    from wscore.repository import Repository

log = get_logger("wscore.limits")

# One token every millisecond at most: T is a whole number of ms, and one DynamoDB item
# takes about 1,000 writes per second, which the tenant bucket must stay under.
MAX_PER_SECOND = 1000
MAX_BURST = 100_000
# Buckets remembered per container (least recently used forgotten first).
MAX_TRACKED = 10_000
# Conditional writes one tenant check may make: a wrong guess costs the second, a bucket
# changed by another container between the two the third (docs/ARCHITECTURE.md).
MAX_TENANT_WRITES = 3


@dataclass(frozen=True, slots=True)
class Limit:
    """`per_second` tokens per second, `burst` at once; per_second 0 turns the limit off."""

    per_second: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    @property
    def interval_ms(self) -> int:
        """T: whole milliseconds, so the rate in force is 1000 / T (exact when T divides
        1000, e.g. 10/s -> 100 ms; 300/s -> 3 ms, i.e. 333/s)."""
        return max(1, round(1000 / self.per_second))

    @property
    def tolerance_ms(self) -> int:
        return (self.burst - 1) * self.interval_ms

    def describe(self) -> str:
        return f"{self.per_second:g} per second, bursts of {self.burst}"


def limit_of(per_second: object, burst: object) -> Limit:
    """A validated limit; ValueError saying what is wrong (the caller names the source)."""
    if (
        isinstance(per_second, bool)
        or not isinstance(per_second, int | float)
        or not 0 <= per_second <= MAX_PER_SECOND  # NaN fails this too
    ):
        raise ValueError(f"perSecond must be a number from 0 (off) to {MAX_PER_SECOND}")
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= MAX_BURST:
        raise ValueError(f"burst must be a whole number from 1 to {MAX_BURST}")
    return Limit(float(per_second), burst)


def limit_from_json(value: object) -> Limit:
    """`{"perSecond": n, "burst": n}` (a tenant's limit in TENANT_RATE_LIMITS or a claim)."""
    if not isinstance(value, dict) or set(value) != {"perSecond", "burst"}:
        raise ValueError('must be an object {"perSecond": number, "burst": whole number}')
    return limit_of(value["perSecond"], value["burst"])


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The sendMessage limits: per connection, per tenant, and tenants of their own.

    A tenant's limit is, first found: the token's claim (`Identity.rate_limit`), the
    tenant's entry in `tenants` (TENANT_RATE_LIMITS), the default `tenant`.
    """

    connection: Limit = Limit(10, 20)
    tenant: Limit = Limit(100, 200)
    tenants: Mapping[str, Limit] = field(default_factory=dict, hash=False)

    def tenant_limit(self, identity: Identity) -> Limit:
        if identity.rate_limit is not None:
            return identity.rate_limit
        return self.tenants.get(identity.tenant_id, self.tenant)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A GCRA decision: `tat_ms` is the new tat when allowed, the current one when not."""

    allowed: bool
    tat_ms: int
    retry_after_ms: int = 0


def gcra(tat_ms: int | None, now_ms: int, limit: Limit) -> Verdict:
    """One request against a bucket whose tat is `tat_ms` (None: never used)."""
    start = now_ms if tat_ms is None else max(tat_ms, now_ms)
    wait = start - limit.tolerance_ms - now_ms
    if wait > 0:
        return Verdict(False, start, wait)
    return Verdict(True, start + limit.interval_ms)


class _Recent:
    """A bounded map of the most recently used keys to a tat (thread-safe: the local
    gateway runs handlers on threads)."""

    def __init__(self, max_entries: int) -> None:
        self._items: OrderedDict[str, int] = OrderedDict()
        self._max = max_entries
        self.lock = threading.Lock()

    def get(self, key: str) -> int | None:
        return self._items.get(key)

    def put(self, key: str, tat_ms: int) -> None:
        self._items[key] = tat_ms
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)


class ConnectionBuckets:
    """Per-connection buckets in this container.

    Accuracy: exact for the frames this container sees, while at most `max_entries`
    connections sent within one refill time (tau + T, 2 s by default); a forgotten bucket
    starts full again.
    """

    def __init__(self, max_entries: int = MAX_TRACKED) -> None:
        self._tats = _Recent(max_entries)

    def take(self, connection_id: str, limit: Limit, now_ms: int) -> int:
        """0 when a token was taken, else the milliseconds to wait."""
        with self._tats.lock:
            verdict = gcra(self._tats.get(connection_id), now_ms, limit)
            if verdict.allowed:
                self._tats.put(connection_id, verdict.tat_ms)
            return verdict.retry_after_ms

    def give_back(self, connection_id: str, limit: Limit) -> None:
        """Return the token `take` took (the request was refused further on)."""
        with self._tats.lock:
            tat = self._tats.get(connection_id)
            if tat is not None:
                self._tats.put(connection_id, tat - limit.interval_ms)


class TenantBuckets:
    """Per-tenant buckets, exact: one item per tenant, changed by conditional writes only.

    A bucket is either idle (no item, or tat <= now: the write sets tat = now + T) or
    bursting (now < tat <= now + tau: tat = tat + T); each is one conditional UpdateItem.
    The last tat this container saw for the tenant says which to try first; a refused write
    returns the stored tat, which tells whether the request is over the limit (and for how
    long) or the other write applies.
    """

    def __init__(self, repo: Repository, max_entries: int = MAX_TRACKED) -> None:
        self._repo = repo
        self._seen = _Recent(max_entries)

    def take(self, tenant_id: str, limit: Limit, now_ms: int) -> int:
        """0 when a token was taken, else the milliseconds to wait."""
        with self._seen.lock:
            seen = self._seen.get(tenant_id)
        bursting = seen is not None and seen > now_ms
        for _ in range(MAX_TENANT_WRITES):
            write = self._repo.take_rate_token(
                tenant_id, now_ms, limit.interval_ms, limit.tolerance_ms, bursting=bursting
            )
            if write.tat_ms is not None:
                with self._seen.lock:
                    self._seen.put(tenant_id, write.tat_ms)
            if write.written:
                return 0
            if write.tat_ms is not None:
                verdict = gcra(write.tat_ms, now_ms, limit)
                if not verdict.allowed:
                    return verdict.retry_after_ms
            # Refused, yet within the limit: the bucket is in the other state (a wrong
            # guess, or another container's write in between). No tat and bursting: no item.
            bursting = not bursting
        # Only with a client that does not return the stored item: T is the longest wait
        # a bucket over its limit can ask for.
        return limit.interval_ms


class RateLimiter:
    """The container's sendMessage limiter: the connection's bucket, then the tenant's."""

    def __init__(self, limits: RateLimits, repo: Repository) -> None:
        self.limits = limits
        self._connections = ConnectionBuckets()
        self._tenants = TenantBuckets(repo)

    def check(self, connection_id: str, identity: Identity, now: float) -> None:
        """Take one token from each bucket, or raise RateLimited having taken none.

        The connection's bucket costs nothing, so it is asked first: a connection over its
        limit never reaches the table. When the tenant refuses, the connection's token is
        given back.
        """
        now_ms = int(now * 1000)
        connection = self.limits.connection
        if connection.enabled:
            wait = self._connections.take(connection_id, connection, now_ms)
            if wait:
                _refuse("connection", identity, connection, wait)
        tenant = self.limits.tenant_limit(identity)
        if not tenant.enabled:
            return
        try:
            wait = self._tenants.take(identity.tenant_id, tenant, now_ms)
        except BaseException:
            self._give_back(connection_id)
            raise
        if wait:
            self._give_back(connection_id)
            _refuse("tenant", identity, tenant, wait)

    def _give_back(self, connection_id: str) -> None:
        if self.limits.connection.enabled:
            self._connections.give_back(connection_id, self.limits.connection)


def _refuse(scope: str, identity: Identity, limit: Limit, wait_ms: int) -> NoReturn:
    """Count the refusal (metric `rate_limited`, by `scope`) and raise it."""
    tenant = {"tenantId": identity.tenant_id}
    metric(log, "rate_limited", scope=scope, rate_limited=1, properties=tenant)
    whose = "this connection" if scope == "connection" else "your tenant"
    raise RateLimited(f"too many messages: {whose} may send {limit.describe()}", wait_ms)
