"""The fault knob's contract: bad bodies are refused and change nothing."""

from __future__ import annotations

import json

import pytest

from local_gateway.faults import Faults
from wscore.errors import ConfigError


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        [],
        {"post429": 1.5},
        {"post429": True},
        {"post429": "0.3"},
        {"cut": {"tenantId": "t", "userId": "u"}},
        {"cut": {"tenantId": "t", "userId": "", "seconds": 5}},
        {"cut": {"tenantId": "t", "userId": "u", "seconds": 0}},
        {"cut": {"tenantId": "t", "userId": "u", "seconds": 99999}},
        {"drop": 1},
    ],
)
def test_a_bad_body_is_refused_and_changes_nothing(body: object) -> None:
    faults = Faults(post429=0.1)
    with pytest.raises(ConfigError):
        faults.configure(json.loads(json.dumps(body)))
    assert faults.post429 == 0.1 and not faults.is_cut("t", "u")


def test_a_cut_lasts_its_seconds_and_throttling_follows_its_share() -> None:
    faults = Faults()
    assert faults.configure({"cut": {"tenantId": "t", "userId": "u", "seconds": 60}}) == ("t", "u")
    assert faults.is_cut("t", "u") and not faults.is_cut("t", "other")
    faults.configure({"post429": 1})
    assert all(faults.throttle_post() for _ in range(20))
    faults.configure({"post429": 0})
    assert not any(faults.throttle_post() for _ in range(20))
