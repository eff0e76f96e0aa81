"""Connection lifecycle through the real handlers on moto: connect, liveness, disconnect."""

from __future__ import annotations

import time

import pytest

from tests.functional.conftest import World
from tools.ws_events import ws_event


def _meta(world: World, cid: str) -> dict | None:
    out = world.dynamodb.get_item(
        TableName=world.table, Key={"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}}
    )
    return out.get("Item")


def test_connect_stores_connection_with_ttl_and_indexes(world: World) -> None:
    before = int(time.time())
    world.connect("c1", "alice", "acme")
    item = _meta(world, "c1")
    assert item is not None
    assert item["GSI1PK"]["S"] == "USER#acme#alice"
    assert item["GSI2PK"]["S"] == "TENANT#acme"
    assert item["GSI2SK"]["S"] == "USER#alice#CONN#c1"
    expires = int(item["expiresAt"]["N"])
    assert before + 600 <= expires <= int(time.time()) + 660


def test_connect_replay_is_idempotent(world: World) -> None:
    world.connect("c1")
    first = _meta(world, "c1")
    world.connect("c1")
    assert _meta(world, "c1") == first


def test_connect_without_authorizer_context_is_refused(world: World) -> None:
    event = ws_event("connect", "c1")
    event["requestContext"].pop("authorizer")
    assert world.call("connect", event) == {"statusCode": 403}
    assert world.items() == []


def test_connect_with_expired_token_is_refused(world: World) -> None:
    event = ws_event("connect", "c1", exp=int(time.time()) - 1)
    assert world.call("connect", event) == {"statusCode": 401}
    assert world.items() == []


def test_disconnect_removes_connection_and_all_memberships(world: World) -> None:
    world.connect("c1")
    for room in ("a", "b", "c"):
        assert world.act("c1", {"action": "joinRoom", "roomId": room})["type"] == "ack"
    kinds = sorted(item["SK"]["S"].split("#")[0] for item in world.items())
    # the connection, a membership, the user's presence and the room's counter per room
    assert kinds == ["CONN"] * 3 + ["META"] + ["PRESENCE"] * 3 + ["USER"] * 3
    world.disconnect("c1")
    assert world.leftovers() == []


def test_disconnect_pages_through_many_memberships(world: World) -> None:
    world.connect("c1")
    for i in range(60):  # more than two BatchWriteItem calls
        world.act("c1", {"action": "joinRoom", "roomId": f"room-{i}"})
    world.disconnect("c1")
    assert world.leftovers() == []


def test_disconnect_is_idempotent(world: World) -> None:
    world.connect("c1")
    world.act("c1", {"action": "joinRoom", "roomId": "lobby"})
    world.disconnect("c1")
    world.disconnect("c1")
    world.disconnect("never-connected")
    assert world.leftovers() == []


def test_heartbeat_extends_ttl_and_acks_with_server_time(world: World) -> None:
    world.connect("c1")
    world.act("c1", {"action": "joinRoom", "roomId": "lobby"})
    world.dynamodb.update_item(  # pretend the connection is close to expiry
        TableName=world.table,
        Key={"PK": {"S": "CONN#c1"}, "SK": {"S": "META"}},
        UpdateExpression="SET expiresAt = :e",
        ExpressionAttributeValues={":e": {"N": str(int(time.time()) + 5)}},
    )
    reply = world.act("c1", {"action": "heartbeat", "requestId": "hb-1"})
    assert reply["type"] == "ack" and reply["action"] == "heartbeat"
    assert reply["requestId"] == "hb-1"
    assert reply["serverTime"].endswith("Z")
    meta_exp = int(_meta(world, "c1")["expiresAt"]["N"])
    assert meta_exp >= int(time.time()) + 600
    membership = world.dynamodb.get_item(
        TableName=world.table, Key={"PK": {"S": "ROOM#acme#lobby"}, "SK": {"S": "CONN#c1"}}
    )["Item"]
    assert int(membership["expiresAt"]["N"]) == meta_exp


def test_any_action_keeps_a_talking_connection_alive(world: World) -> None:
    world.connect("c1")
    world.dynamodb.update_item(
        TableName=world.table,
        Key={"PK": {"S": "CONN#c1"}, "SK": {"S": "META"}},
        UpdateExpression="SET expiresAt = :e",
        ExpressionAttributeValues={":e": {"N": str(int(time.time()) + 30)}},
    )
    assert world.act("c1", {"action": "getPresence"})["type"] == "ack"
    assert int(_meta(world, "c1")["expiresAt"]["N"]) >= int(time.time()) + 600


def test_expired_connection_is_treated_as_gone_before_ttl_deletes_it(world: World) -> None:
    world.connect("c1", "alice")
    world.connect("c2", "bob")
    world.act("c1", {"action": "joinRoom", "roomId": "lobby"})
    world.act("c2", {"action": "joinRoom", "roomId": "lobby"})
    past = str(int(time.time()) - 1)
    # What time does to alice's connection: it, its membership and her presence expire.
    for key, attribute in (
        ({"PK": {"S": "CONN#c1"}, "SK": {"S": "META"}}, "expiresAt"),
        ({"PK": {"S": "ROOM#acme#lobby"}, "SK": {"S": "CONN#c1"}}, "expiresAt"),
        ({"PK": {"S": "ROOM#acme#lobby"}, "SK": {"S": "USER#alice"}}, "live_c1"),
    ):
        world.dynamodb.update_item(
            TableName=world.table,
            Key=key,
            UpdateExpression=f"SET {attribute} = :e",
            ExpressionAttributeValues={":e": {"N": past}},
        )
    presence = world.act("c2", {"action": "getPresence", "roomId": "lobby"})
    assert presence["users"] == [{"userId": "bob"}]
    tenant = world.act("c2", {"action": "getPresence"})
    assert tenant["users"] == [{"userId": "bob"}]
    world.act("c2", {"action": "sendMessage", "roomId": "lobby", "data": "hi"})
    assert world.transport.frames("c1", "message") == []


def test_action_on_expired_connection_gets_error_and_is_closed(world: World) -> None:
    world.connect("c1")
    world.dynamodb.update_item(
        TableName=world.table,
        Key={"PK": {"S": "CONN#c1"}, "SK": {"S": "META"}},
        UpdateExpression="SET expiresAt = :e",
        ExpressionAttributeValues={":e": {"N": str(int(time.time()) - 1)}},
    )
    assert world.act("c1", {"action": "getPresence", "requestId": "r"}) is None
    (frame,) = world.transport.frames("c1")
    assert frame["type"] == "error" and frame["code"] == "forbidden" and frame["requestId"] == "r"
    assert world.transport.deleted == ["c1"]
    assert world.leftovers() == []


def test_action_after_token_expiry_is_refused_and_connection_closed(world: World) -> None:
    soon = int(time.time()) + 3600
    world.connect("c1", exp=soon)
    world.act("c1", {"action": "joinRoom", "roomId": "lobby"}, exp=soon)
    expired = int(time.time()) - 1  # the same connection, its token now past exp
    _set_token_exp(world, "c1", expired)  # as the clock passing `exp` would make it
    assert world.act("c1", {"action": "heartbeat", "requestId": "x"}, exp=expired) is None
    (frame,) = world.transport.frames("c1")
    assert frame == {
        "type": "error",
        "action": "heartbeat",
        "requestId": "x",
        "code": "forbidden",
        "message": "the token has expired; reconnect with a fresh token",
    }
    assert world.transport.deleted == ["c1"]
    assert world.leftovers() == []


@pytest.mark.parametrize(
    ("body", "code", "action", "request_id"),
    [
        ("not json", "invalid_json", None, None),
        ("", "invalid_json", None, None),
        ("[1,2]", "invalid_json", None, None),
        ('{"action":"fly","requestId":"r1"}', "unknown_action", "fly", "r1"),
        ('{"requestId":"r2"}', "unknown_action", None, "r2"),
        ('{"action":"joinRoom","requestId":5}', "invalid_request", "joinRoom", None),
    ],
)
def test_default_route_answers_with_error_frames(
    world: World, body: str, code: str, action: str | None, request_id: str | None
) -> None:
    world.connect("c1")
    out = world.call("default", ws_event("message", "c1", body=body, route="$default"))
    frame = __import__("json").loads(out["body"])
    assert out["statusCode"] == 200
    assert frame["type"] == "error"
    assert frame["code"] == code
    assert frame["action"] == action
    assert frame["requestId"] == request_id
    if code == "unknown_action":
        for valid in ("joinRoom", "leaveRoom", "sendMessage", "heartbeat", "getPresence"):
            assert valid in frame["message"]


def test_handlers_build_the_dynamodb_client_under_test(
    world: World, dynamodb_transport: str
) -> None:
    from botocore.client import BaseClient

    from wscore import services
    from wscore.aws.dynamodb import FastDynamoDBClient

    world.connect("c1")
    client = services.services().repo._db
    expected = FastDynamoDBClient if dynamodb_transport == "fast" else BaseClient
    assert isinstance(client, expected), type(client)


def _set_token_exp(world: World, cid: str, exp: int) -> None:
    """Move a stored token expiry (the connection's, which refreshToken also replaces)."""
    world.dynamodb.update_item(
        TableName=world.table,
        Key={"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}},
        UpdateExpression="SET tokenExp = :exp",
        ExpressionAttributeValues={":exp": {"N": str(exp)}},
    )


def test_the_stored_expiry_wins_over_the_connect_time_context(world: World) -> None:
    """After refreshToken the stored expiry is later than the authorizer context, which
    API Gateway keeps passing as it was at $connect: the stored one decides."""
    world.connect("c1", exp=int(time.time()) + 60)
    _set_token_exp(world, "c1", int(time.time()) + 3600)  # refreshed
    stale_context = int(time.time()) - 1
    reply = world.act("c1", {"action": "heartbeat"}, exp=stale_context)
    assert reply["type"] == "ack"
