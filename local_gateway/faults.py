"""Fault injection for tests and demos of delivery continuity (the local gateway only).

Two faults, both off unless asked for:
- **@connections throttling**: each POST to `/{stage}/@connections/{id}` is answered 429
  (`LimitExceededException`, as API Gateway does past the account's rate) with probability
  `post429`, drawn from a seeded generator so a run can be repeated;
- **a cut-off client**: every connection of one user is closed (1001, "fault injection")
  and the user's handshakes are refused with HTTP 503 for `seconds`, as if their network
  were gone; their client keeps retrying and comes back when the time is up.

Set at start with GATEWAY_FAULT_POST_429 (0-1) and GATEWAY_FAULT_SEED, or at run time with
`POST /{stage}/_dev/faults` `{"post429": 0.3}` / `{"cut": {"tenantId", "userId",
"seconds"}}` (docs/LOCAL_GATEWAY.md).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wscore.config import env_float, env_int
from wscore.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_CUT_SECONDS = 3600.0


@dataclass
class Faults:
    """The faults in force; the server asks it on every POST and handshake."""

    post429: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    _cut_until: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Faults:
        seed = env_int(env, "GATEWAY_FAULT_SEED", 0, 0, 2**31)
        rate = env_float(env, "GATEWAY_FAULT_POST_429", 0.0, 0.0, 1.0)
        return cls(post429=rate, rng=random.Random(seed))  # noqa: S311 - a test fault, not a secret

    def throttle_post(self) -> bool:
        """True when this @connections POST is to be answered 429."""
        return self.post429 > 0 and self.rng.random() < self.post429

    def is_cut(self, tenant_id: str, user_id: str) -> bool:
        until = self._cut_until.get((tenant_id, user_id))
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        del self._cut_until[(tenant_id, user_id)]
        return False

    def configure(self, body: Any) -> tuple[str, str] | None:
        """Apply a `/_dev/faults` body; the user to disconnect now, if one is cut off.

        Raises ConfigError with what is wrong (the endpoint answers 400).
        """
        if not isinstance(body, dict) or not set(body) <= {"post429", "cut"} or not body:
            raise ConfigError('the body must be {"post429": 0..1} and/or {"cut": {...}}')
        cut = None
        if "cut" in body:
            cut = self._cut(body["cut"])
        if "post429" in body:
            rate = body["post429"]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ConfigError("post429 must be a number from 0 to 1")
            self.post429 = float(rate)
        if cut is not None:
            tenant, user, seconds = cut
            self._cut_until[(tenant, user)] = time.monotonic() + seconds
            return tenant, user
        return None

    @staticmethod
    def _cut(spec: Any) -> tuple[str, str, float]:
        if not isinstance(spec, dict) or set(spec) != {"tenantId", "userId", "seconds"}:
            raise ConfigError('cut must be {"tenantId": ..., "userId": ..., "seconds": ...}')
        tenant, user, seconds = spec["tenantId"], spec["userId"], spec["seconds"]
        if not (isinstance(tenant, str) and tenant and isinstance(user, str) and user):
            raise ConfigError("cut.tenantId and cut.userId must be non-empty strings")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ConfigError("cut.seconds must be a number")
        if not 0 < seconds <= MAX_CUT_SECONDS:
            raise ConfigError(f"cut.seconds must be above 0 and at most {MAX_CUT_SECONDS:.0f}")
        return tenant, user, float(seconds)
