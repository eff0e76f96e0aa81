"""Typed event views (identity only from the authorizer) and cold-start configuration."""

from __future__ import annotations

from typing import Any

import pytest

from tools.ws_events import load_event, ws_event
from wscore.config import Config, env_bool, env_float, env_int, env_str
from wscore.errors import ConfigError, Forbidden
from wscore.events import Identity, WebSocketEvent


# -- Identity ----------------------------------------------------------------------------
def test_identity_from_string_context() -> None:
    ctx = {
        "userId": "alice",
        "tenantId": "acme",
        "tokenExp": "4102444800",
        "roles": "admin,,member",
        "rooms": "lobby,team-*",
    }
    identity = Identity.from_authorizer(ctx)
    assert identity == Identity(
        "alice", "acme", 4102444800, ("admin", "member"), ("lobby", "team-*")
    )
    assert Identity.from_authorizer(identity.to_context()) == identity


def test_identity_accepts_an_int_token_exp_and_missing_optional_claims() -> None:
    identity = Identity.from_authorizer({"userId": "a", "tenantId": "t", "tokenExp": 17})
    assert identity.token_exp == 17 and identity.roles == () and identity.rooms == ()
    assert identity.to_context() == {
        "userId": "a",
        "tenantId": "t",
        "tokenExp": "17",
        "roles": "",
        "rooms": "",
    }


@pytest.mark.parametrize("value", [None, "", 5, ["a"]])
def test_identity_ignores_non_string_lists(value: Any) -> None:
    ctx = {"userId": "a", "tenantId": "t", "tokenExp": "1", "roles": value, "rooms": value}
    identity = Identity.from_authorizer(ctx)
    assert identity.roles == () and identity.rooms == ()


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        (None, "no authorizer context"),
        ({}, "no authorizer context"),
        ({"tenantId": "t", "tokenExp": "1"}, "lacks userId or tenantId"),
        ({"userId": "a", "tokenExp": "1"}, "lacks userId or tenantId"),
        ({"userId": "", "tenantId": "t", "tokenExp": "1"}, "lacks userId or tenantId"),
        ({"userId": "a", "tenantId": "", "tokenExp": "1"}, "lacks userId or tenantId"),
        ({"userId": 5, "tenantId": "t", "tokenExp": "1"}, "lacks userId or tenantId"),
        ({"userId": "a", "tenantId": ["t"], "tokenExp": "1"}, "lacks userId or tenantId"),
        ({"userId": "a", "tenantId": "t"}, "lacks tokenExp"),
        ({"userId": "a", "tenantId": "t", "tokenExp": ""}, "lacks tokenExp"),
        ({"userId": "a", "tenantId": "t", "tokenExp": "soon"}, "lacks tokenExp"),
        ({"userId": "a", "tenantId": "t", "tokenExp": "1.5"}, "lacks tokenExp"),
    ],
)
def test_identity_missing_fields_are_forbidden(ctx: Any, message: str) -> None:
    with pytest.raises(Forbidden, match=message):
        Identity.from_authorizer(ctx)


# -- WebSocketEvent ----------------------------------------------------------------------
def test_message_event_view() -> None:
    raw = ws_event("message", "cid-1", "bob", "acme", {"action": "joinRoom", "roomId": "r"})
    event = WebSocketEvent.from_event(raw)
    assert event.event_type == "MESSAGE"
    assert event.connection_id == "cid-1" and event.stage == "dev"
    assert event.body == '{"action": "joinRoom", "roomId": "r"}'
    assert event.identity.user_id == "bob" and event.identity.tenant_id == "acme"
    assert event.management_endpoint == "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"


def test_a_body_cannot_change_the_identity() -> None:
    body = {"action": "joinRoom", "userId": "mallory", "tenantId": "evil", "tokenExp": "0"}
    event = WebSocketEvent.from_event(ws_event("message", "c", "bob", "acme", body))
    assert (event.identity.user_id, event.identity.tenant_id) == ("bob", "acme")


def test_disconnect_event_view() -> None:
    raw = load_event("disconnect")
    raw["requestContext"]["disconnectStatusCode"] = "1001"
    event = WebSocketEvent.from_event(raw)
    assert event.event_type == "DISCONNECT" and event.disconnect_status_code == 1001


@pytest.mark.parametrize("event_type", [None, "INVOKE", "connect"])
def test_not_a_websocket_event(event_type: Any) -> None:
    raw = load_event("message")
    raw["requestContext"]["eventType"] = event_type
    with pytest.raises(ValueError, match="not an API Gateway WebSocket event"):
        WebSocketEvent.from_event(raw)


def test_event_without_authorizer_is_forbidden_on_use() -> None:
    raw = load_event("message")
    raw["requestContext"].pop("authorizer")
    event = WebSocketEvent.from_event(raw)
    with pytest.raises(Forbidden):
        _ = event.identity


# -- configuration -------------------------------------------------------------------------
def test_defaults() -> None:
    config = Config.from_env({"TABLE_NAME": "t"})
    assert config == Config(table_name="t")
    assert (config.fanout_threshold, config.connection_ttl_seconds) == (100, 660)
    assert (config.max_connection_seconds, config.tracing_enabled) == (7200, False)
    assert config.management_endpoint is None and config.fanout_queue_url is None


def test_every_variable_is_read() -> None:
    config = Config.from_env(
        {
            "TABLE_NAME": " ws ",
            "FANOUT_QUEUE_URL": "https://sqs/q",
            "FANOUT_THRESHOLD": "5",
            "CONNECTION_TTL_SECONDS": "120",
            "MAX_CONNECTION_SECONDS": "3600",
            "MANAGEMENT_ENDPOINT": "http://127.0.0.1:3001/dev/",
            "TRACING_ENABLED": "TRUE",
        }
    )
    assert config == Config("ws", "https://sqs/q", 5, 120, 3600, "http://127.0.0.1:3001/dev", True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "TABLE_NAME is required"),
        ({"TABLE_NAME": "  "}, "TABLE_NAME is required"),
        ({"FANOUT_THRESHOLD": "many"}, "FANOUT_THRESHOLD must be an integer, got 'many'"),
        ({"FANOUT_THRESHOLD": "0"}, "FANOUT_THRESHOLD must be between 1 and 1000000, got 0"),
        ({"FANOUT_THRESHOLD": "1000001"}, "FANOUT_THRESHOLD must be between 1 and 1000000"),
        ({"CONNECTION_TTL_SECONDS": "59"}, "CONNECTION_TTL_SECONDS must be between 60 and 7200"),
        ({"CONNECTION_TTL_SECONDS": "7201"}, "CONNECTION_TTL_SECONDS must be between 60 and"),
        ({"CONNECTION_TTL_SECONDS": "1.5"}, "CONNECTION_TTL_SECONDS must be an integer"),
        ({"MAX_CONNECTION_SECONDS": "59"}, "MAX_CONNECTION_SECONDS must be between 60 and 86400"),
        ({"MAX_CONNECTION_SECONDS": "86401"}, "MAX_CONNECTION_SECONDS must be between 60"),
        ({"MAX_CONNECTION_SECONDS": "2h"}, "MAX_CONNECTION_SECONDS must be an integer"),
        ({"TRACING_ENABLED": "ture"}, "TRACING_ENABLED must be true or false, got 'ture'"),
        ({"TRACING_ENABLED": "2"}, "TRACING_ENABLED must be true or false"),
        ({"MANAGEMENT_ENDPOINT": "abc.execute-api"}, "MANAGEMENT_ENDPOINT must be an http(s) URL"),
        ({"MANAGEMENT_ENDPOINT": "wss://x/dev"}, "MANAGEMENT_ENDPOINT must be an http(s) URL"),
    ],
)
def test_invalid_configuration_names_the_variable(env: dict[str, str], message: str) -> None:
    full = {"TABLE_NAME": "t", **env} if "TABLE_NAME" not in env and env else env
    with pytest.raises(ConfigError) as raised:
        Config.from_env(full)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), ("true", True), (" Yes ", True), ("on", True), ("0", False), ("off", False)],
)
def test_env_bool(raw: str, value: bool) -> None:
    assert env_bool({"X": raw}, "X") is value
    assert env_bool({"X": ""}, "X", default=True) is False  # set but empty means false
    assert env_bool({}, "X", default=True) is True


def test_env_int_and_str_helpers() -> None:
    assert env_int({}, "N", 7, 1, 10) == 7
    assert env_int({"N": " "}, "N", 7, 1, 10) == 7
    assert env_int({"N": "10"}, "N", 7, 1, 10) == 10
    assert env_str({"S": " v "}, "S") == "v"
    with pytest.raises(ConfigError, match="S is required"):
        env_str({"S": ""}, "S")


def test_env_float_names_the_variable_and_refuses_nan() -> None:
    assert env_float({}, "T", 1.5, 0.05, 10.0) == 1.5
    assert env_float({"T": " 0.25 "}, "T", 1.5, 0.05, 10.0) == 0.25
    with pytest.raises(ConfigError, match="T must be a number, got 'soon'"):
        env_float({"T": "soon"}, "T", 1.5, 0.05, 10.0)
    for raw in ("0", "11", "nan", "inf"):
        with pytest.raises(ConfigError, match=r"T must be between 0\.05 and 10\.0"):
            env_float({"T": raw}, "T", 1.5, 0.05, 10.0)
