"""The authorizer and $connect apply one expiry rule: a token the authorizer lets in is
stored by $connect, whatever the leeway (401s from $connect count as integration errors)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

import authorizer
from tools import devtoken
from tools.ws_events import ws_event

if TYPE_CHECKING:
    from tests.functional.conftest import World

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/dev/$connect"


def _authorize(token: str) -> dict[str, Any] | None:
    event = {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "queryStringParameters": {"token": token},
        "requestContext": {"connectionId": "c1", "requestId": "r1"},
    }
    try:
        return authorizer.handler(event, None)
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return None


def test_the_authorizer_admits_exactly_the_tokens_connect_accepts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEV_MODE", "true")
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")
    monkeypatch.setenv("JWT_DEV_SECRET", devtoken.DEV_SECRET)
    monkeypatch.setenv("JWT_ISSUER", devtoken.DEV_ISSUER)
    monkeypatch.setenv("JWT_AUDIENCE", devtoken.DEV_AUDIENCE)
    monkeypatch.setenv("JWT_LEEWAY_SECONDS", "60")  # the most the module allows
    authorizer.reset()
    frozen = int(time.time()) + 0.5
    monkeypatch.setattr(time, "time", lambda: frozen)
    outcomes = {}
    for offset in range(-62, 3):
        lifetime = 3600
        token = devtoken.mint(
            "alice", "acme", lifetime_s=lifetime, now=int(frozen) + offset - lifetime
        )
        allowed = _authorize(token)
        if allowed is None:
            outcomes[offset] = ("401", None)
            continue
        event = ws_event("connect", f"c{offset + 100}")
        event["requestContext"]["authorizer"] = allowed["context"]
        outcomes[offset] = ("allow", world.call("connect", event)["statusCode"])
    authorizer.reset()
    # exp in the past or this very second: refused by the authorizer, never by $connect.
    assert {o for o, r in outcomes.items() if r[0] == "allow"} == {1, 2}
    assert all(status == 200 for kind, status in outcomes.values() if kind == "allow")
