"""One retry policy for the hand-written AWS clients: botocore's standard retry mode.

Why one: the DynamoDB client, the @connections client and the repository's BatchWriteItem
loop each had their own loop and backoff, and the DynamoDB one gave up on throttling long
before botocore would have, so the fast clients broke the contract of the botocore clients
they replace. This mirrors `botocore/retries/standard.py` and `quota.py` (botocore 1.44;
tests/unit/test_retry.py checks the delays against botocore's own `ExponentialBackoff`):

- at most `max_attempts` attempts per call (3, botocore's default);
- before retry i (0-based), a full-jitter delay `rand() * min(base * 2**i, 20 s)`, with
  `base` 1 s for throttling and a short one for other transient errors (5xx, network):
  those say nothing about load, so a long wait would only add latency (botocore uses
  50 ms, and 25 ms for DynamoDB);
- a retry quota per client, a token bucket of 500: a throttling retry takes 5 tokens, any
  other retry 14, a success gives back what its last retry took (1 if it needed none). An
  empty bucket means "the service is struggling": failures are returned at once rather
  than retried, so a fleet of callers does not multiply the load on it.

Deciding which responses are throttling or transient is each client's job (it knows its
wire format); `classify` holds botocore's rules for AWS error responses. Nothing here reads
a clock: botocore's standard mode has no time-based state, only attempts and the quota.
"""

from __future__ import annotations

import random
import threading
import time
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 3
MAX_BACKOFF_S = 20.0
THROTTLING_BASE_S = 1.0
TRANSIENT_BASE_S = 0.05
QUOTA_CAPACITY = 500
THROTTLING_RETRY_COST = 5
RETRY_COST = 14
NO_RETRY_INCREMENT = 1

# botocore's ThrottledRetryableChecker and TransientRetryableChecker.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


class Failure(Enum):
    """Why an attempt did not succeed, as far as retrying is concerned."""

    THROTTLING = "throttling"  # the service asks us to slow down: long backoff, cheap retry
    TRANSIENT = "transient"  # 5xx or network: short backoff
    FINAL = "final"  # an answer (4xx): retrying would not change it


def classify(status: int, code: str = "") -> Failure:
    """An AWS error response as botocore's standard mode judges it (service models aside)."""
    if code in THROTTLING_CODES:
        return Failure.THROTTLING
    if code in TRANSIENT_CODES or status in TRANSIENT_STATUSES:
        return Failure.TRANSIENT
    if status == 429:
        return Failure.THROTTLING
    return Failure.FINAL


class RetryQuota:
    """botocore's retry quota: a token bucket shared by all calls of one client (thread-safe)."""

    def __init__(self, capacity: int = QUOTA_CAPACITY) -> None:
        self.capacity = capacity
        self._available = capacity
        self._lock = threading.Lock()

    @property
    def available(self) -> int:
        return self._available

    def acquire(self, amount: int) -> bool:
        """Take `amount` tokens for a retry; False (and nothing taken) when too few are left."""
        with self._lock:
            if amount > self._available:
                return False
            self._available -= amount
            return True

    def release(self, amount: int) -> None:
        """Give tokens back after a success, never above the capacity."""
        if self._available == self.capacity:
            return  # the common case, without taking the lock
        with self._lock:
            self._available = min(self.capacity, self._available + amount)


class RetryPolicy:
    """Attempts, backoff and quota of one client (see the module docstring).

    `sleep` and `rng` are injectable so tests can see every delay without waiting.
    """

    def __init__(
        self,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        *,
        throttling_base_s: float = THROTTLING_BASE_S,
        transient_base_s: float = TRANSIENT_BASE_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        quota: RetryQuota | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.max_attempts = max_attempts
        self.throttling_base_s = throttling_base_s
        self.transient_base_s = transient_base_s
        self.max_backoff_s = max_backoff_s
        self.quota = RetryQuota() if quota is None else quota
        self.sleep = sleep
        self.rng = rng

    def delay(self, failure: Failure, retry: int) -> float:
        """The full-jitter delay before retry number `retry` (0-based) after `failure`."""
        base = self.throttling_base_s if failure is Failure.THROTTLING else self.transient_base_s
        return float(self.rng() * min(base * 2**retry, self.max_backoff_s))

    def start(self) -> RetryCall:
        """The retry state of one logical call (for callers that schedule retries themselves)."""
        return RetryCall(self)

    def run(self, attempt: Callable[[], T], judge: Callable[[T], Failure | None]) -> T:
        """Call `attempt` until `judge` finds its result a success or not worth retrying.

        Returns the last result, whatever it is: the caller turns a failed one into its own
        outcome (an exception, a status), so the policy needs to know nothing about them.
        """
        call = RetryCall(self)
        while True:
            result = attempt()
            delay = call.next_delay(judge(result))
            if delay is None:
                return result
            self.sleep(delay)


class RetryCall:
    """One logical call: how many attempts it made and the quota its last retry holds."""

    __slots__ = ("_held", "_policy", "attempts")

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._held = 0
        self.attempts = 0

    def next_delay(self, failure: Failure | None) -> float | None:
        """Record an attempt (None: it succeeded); the delay before the next one, or None.

        None means stop: the attempt succeeded (its quota is given back), its error is final,
        the attempts are used up, or the quota has no tokens left for another retry.
        """
        policy = self._policy
        self.attempts += 1
        if failure is None:
            policy.quota.release(self._held or NO_RETRY_INCREMENT)
            return None
        if failure is Failure.FINAL or self.attempts >= policy.max_attempts:
            return None
        cost = THROTTLING_RETRY_COST if failure is Failure.THROTTLING else RETRY_COST
        if not policy.quota.acquire(cost):
            return None
        self._held = cost
        return policy.delay(failure, self.attempts - 1)
