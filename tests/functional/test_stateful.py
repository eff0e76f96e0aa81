"""A stateful model test of rooms, presence and cleanup across two tenants (hypothesis).

Rules drive the real handlers on moto: connect, join, send, leave, heartbeat, getPresence,
disconnect, kill (the client dies without a close: @connections answers 410 from then on),
expire (TTL time passes: the connection's and its memberships' expiresAt go into the past),
age (idle time passes: the next action must extend the connection and its memberships),
an action from an expired connection, the TTL deletion of the connection item, and the
stream cleanup of that deletion (optionally replayed), plus a non-TTL REMOVE that must be
ignored. Both tenants use the same user and room names, so only the key namespacing keeps
them apart.

The model predicts the table and every frame each connection receives. Invariants, checked
after every step:
- the table holds exactly the model's connection and membership items;
- no orphaned membership: a membership's connection item exists with the same tenant, user
  and expiresAt (memberships mirror it; an expired connection has expired memberships).
  The one allowed exception is after a TTL deletion whose stream record has not been
  processed yet: the connection item is gone and its memberships remain, all expired
  (every read filters them), until the stream cleanup removes them;
- no cross-tenant delivery: every message a connection received was sent in its own
  tenant, to a room it was in, by another connection (a sender never receives its own
  message); and each connection received exactly the frames the model predicts;
- a connection that answered 410 to a delivery attempt is pruned (item and memberships);
- presence answers (joinRoom members, getPresence for a room or the tenant) match the model.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.functional.conftest import World
from tests.helpers import moto_table_items


@pytest.fixture
def dynamodb_transport() -> str:
    """Generated sequences run on the production client only (both would double the time)."""
    return "fast"


TENANTS = ("acme", "globex")
USERS = ("u1", "u2")
ROOMS = ("r1", "r2")
ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
MAX_CONNS = 7
LIFECYCLE = (
    *("connect", "disconnect", "kill", "kill", "expire", "act_while_expired"),
    *("ttl_delete", "stream_cleanup", "stream_cleanup", "user_remove", "age"),
)
CLIENT_ACTIONS = ("join", "join", "send", "send", "send", "leave", "heartbeat", "presence")

Frame = tuple[Any, ...]


@dataclass
class Conn:
    cid: str
    tenant: str
    user: str
    killed: bool = False
    expired: bool = False
    rooms: set[str] = field(default_factory=set)


def normalise(frame: dict[str, Any]) -> Frame:
    """What the model can predict of a received frame (ids and clocks are checked apart)."""
    if frame["type"] == "message":
        return ("message", frame["roomId"], frame["from"]["userId"], frame["data"]["n"])
    if frame["type"] == "presence":
        return ("presence", frame["roomId"], frame["event"], frame["userId"])
    return (frame["type"], frame.get("action"), frame.get("code"))


def _connection_items(table: str) -> list[dict[str, Any]]:
    """Connection and membership items (the room counters and history are checked apart)."""
    return [
        item
        for item in moto_table_items(table)
        if item.get("type", {}).get("S") in ("connection", "membership")
    ]


class RoomsModel(RuleBasedStateMachine):
    """The model: live/killed/expired connections, memberships, and every inbox."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.conns: dict[str, Conn] = {}
        self.ttl_pending: dict[str, tuple[Conn, dict[str, Any]]] = {}
        self.inbox: dict[str, list[Frame]] = {}
        self.attempts: list[str] = []
        self.sent_by: dict[int, tuple[str, str, str, set[str]]] = {}  # n: tenant,room,cid,to
        self.message_ids: dict[int, str] = {}
        self.seqs: dict[int, int] = {}
        self.room_seq: dict[tuple[str, str], int] = {}
        self.counter = 0
        self.tenant_of: dict[str, str] = {}
        self.aged: set[str] = set()
        self._reset_world()

    # -- plumbing --------------------------------------------------------------------
    def _reset_world(self) -> None:
        """Empty the table and the transport: every hypothesis example starts afresh."""
        db, table = self.world.dynamodb, self.world.table
        for item in moto_table_items(table):
            db.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
        transport = self.world.transport
        transport.sent.clear()
        transport.status.clear()
        transport.deleted.clear()
        original = type(transport).post

        def post(cid: str, data: bytes) -> int:
            self.attempts.append(cid)
            return original(transport, cid, data)

        transport.post = post
        self.world.who.clear()

    def _next_cid(self) -> str:
        self.counter += 1
        return f"c{self.counter}"

    def _act(self, conn: Conn, body: dict[str, Any]) -> dict[str, Any] | None:
        reply: dict[str, Any] | None = self.world.act(conn.cid, body)
        return reply

    def _set_expiry(self, key: dict[str, Any], when: int) -> None:
        self.world.dynamodb.update_item(
            TableName=self.world.table,
            Key=key,
            UpdateExpression="SET expiresAt = :e",
            ExpressionAttributeValues={":e": {"N": str(when)}},
        )

    # -- the model's view of the table ----------------------------------------------------
    def _db_live(self) -> list[Conn]:
        return [c for c in self.conns.values() if not c.expired]

    def _members(self, tenant: str, room: str) -> list[Conn]:
        return [c for c in self._db_live() if c.tenant == tenant and room in c.rooms]

    def _user_in_room(self, tenant: str, user: str, room: str, exclude: str) -> bool:
        return any(c.user == user and c.cid != exclude for c in self._members(tenant, room))

    def _deliver(self, targets: list[Conn], frame: Frame) -> list[str]:
        """Post to each target: a killed one answers 410 and is reported gone."""
        gone = []
        for target in targets:
            if target.killed:
                event("delivery attempt to a killed connection (410)")
                gone.append(target.cid)
            else:
                self.inbox.setdefault(target.cid, []).append(frame)
        return gone

    def _announce_leaves(self, conn: Conn, rooms: set[str]) -> list[str]:
        gone: list[str] = []
        for room in sorted(rooms):
            if self._user_in_room(conn.tenant, conn.user, room, exclude=conn.cid):
                continue
            others = [c for c in self._members(conn.tenant, room) if c.cid != conn.cid]
            gone += self._deliver(others, ("presence", room, "leave", conn.user))
        return gone

    def _cleanup(self, cids: list[str]) -> None:
        """$disconnect, 410 pruning and TTL cleanup: remove, announce, prune cascades."""
        pending, seen = list(dict.fromkeys(cids)), set()
        while pending:
            cid = pending.pop()
            if cid in seen:
                continue
            seen.add(cid)
            conn = self.conns.pop(cid, None)
            if conn is None and cid in self.ttl_pending:
                conn = self.ttl_pending.pop(cid)[0]
            if conn is None:
                continue
            rooms, conn.rooms = conn.rooms, set()
            event(f"cleanup of a connection in {len(rooms)} room(s)")
            pending += [g for g in self._announce_leaves(conn, rooms) if g not in seen]

    def _prune(self, gone: list[str]) -> None:
        if gone:
            self._cleanup(gone)

    # -- rules -----------------------------------------------------------------------
    @initialize(
        people=st.lists(
            st.tuples(
                st.sampled_from(TENANTS), st.sampled_from(USERS), st.sets(st.sampled_from(ROOMS))
            ),
            min_size=3,
            max_size=5,
        )
    )
    def crowd(self, people: list[tuple[str, str, set[str]]]) -> None:
        """Start with a few connections of both tenants, already in some rooms."""
        for tenant, user, rooms in people:
            conn = self.conns[self.do_connect(tenant, user)]
            for room in sorted(rooms):
                self.do_join(conn, room)

    def do_connect(self, tenant: str, user: str) -> str:
        cid = self._next_cid()
        self.world.connect(cid, user, tenant)
        self.conns[cid] = Conn(cid, tenant, user)
        self.tenant_of[cid] = tenant
        return cid

    def _actives(self) -> list[str]:
        """Connections whose client is still there and live (they can send frames)."""
        return sorted(c.cid for c in self.conns.values() if not c.killed and not c.expired)

    def _room_for(self, data: st.DataObject, conn: Conn) -> str:
        """Mostly a room the connection is in (else not_member every time), sometimes not."""
        if conn.rooms and data.draw(st.integers(0, 4), label="mine") > 0:
            return data.draw(st.sampled_from(sorted(conn.rooms)), label="room")
        return data.draw(st.sampled_from(ROOMS), label="room")

    def _pick(self, data: st.DataObject, cids: list[str]) -> Conn:
        return self.conns[data.draw(st.sampled_from(cids), label="cid")]

    @precondition(lambda self: self._actives())
    @rule(data=st.data(), kind=st.sampled_from(CLIENT_ACTIONS))
    def client_action(self, data: st.DataObject, kind: str) -> None:
        """One frame from a live client (one rule, weighted, so every example is busy)."""
        conn = self._pick(data, self._actives())
        self._client_action(data, kind, conn)
        if conn.cid in self.aged and conn.cid in self.conns:
            self.aged.discard(conn.cid)
            meta = self.world.dynamodb.get_item(
                TableName=self.world.table,
                Key={"PK": {"S": f"CONN#{conn.cid}"}, "SK": {"S": "META"}},
            )["Item"]
            assert int(meta["expiresAt"]["N"]) >= int(time.time()) + 600, "activity extends"

    def _client_action(self, data: st.DataObject, kind: str, conn: Conn) -> None:
        if kind == "join":
            self.do_join(conn, data.draw(st.sampled_from(ROOMS), label="room"))
        elif kind == "leave":
            self.do_leave(conn, self._room_for(data, conn))
        elif kind == "send":
            self.do_send(conn, self._room_for(data, conn))
        elif kind == "heartbeat":
            self.do_heartbeat(conn)
        else:
            self.do_presence(conn, data.draw(st.sampled_from((*ROOMS, None)), label="room"))

    def do_join(self, conn: Conn, room: str) -> None:
        cid = conn.cid
        already = room in conn.rooms
        others = self._user_in_room(conn.tenant, conn.user, room, exclude=cid)
        conn.rooms.add(room)
        members = self._members(conn.tenant, room)
        expected_users = {c.user for c in members}
        gone: list[str] = []
        if not already and not others:
            targets = [c for c in members if c.cid != cid]
            gone = self._deliver(targets, ("presence", room, "join", conn.user))
        self._prune(gone)
        ack = self._act(conn, {"action": "joinRoom", "roomId": room, "requestId": "j"})
        assert ack is not None and ack["type"] == "ack" and ack["requestId"] == "j", ack
        users = [m["userId"] for m in ack["members"]]
        assert len(users) == len(set(users)) and set(users) == expected_users

    def do_leave(self, conn: Conn, room: str) -> None:
        reply = self._act(conn, {"action": "leaveRoom", "roomId": room})
        assert reply is not None
        if room not in conn.rooms:
            assert reply["type"] == "error" and reply["code"] == "not_member", reply
            return
        assert reply["type"] == "ack" and reply["roomId"] == room, reply
        conn.rooms.discard(room)
        self._prune(self._announce_leaves(conn, {room}))

    def do_send(self, conn: Conn, room: str) -> None:
        cid = conn.cid
        self.counter += 1
        n = self.counter
        reply = self._act(conn, {"action": "sendMessage", "roomId": room, "data": {"n": n}})
        assert reply is not None
        if room not in conn.rooms:
            assert reply["type"] == "error" and reply["code"] == "not_member", reply
            return
        assert reply["type"] == "ack", reply
        targets = [c for c in self._members(conn.tenant, room) if c.cid != cid]
        self.sent_by[n] = (conn.tenant, room, cid, {c.cid for c in targets})
        self.message_ids[n] = reply["messageId"]
        # v1.1: every persisted message takes the room's next seq, 1, 2, 3... per tenant
        self.room_seq[(conn.tenant, room)] = self.room_seq.get((conn.tenant, room), 0) + 1
        assert reply["seq"] == self.room_seq[(conn.tenant, room)], reply
        self.seqs[n] = reply["seq"]
        self._prune(self._deliver(targets, ("message", room, conn.user, n)))

    def do_heartbeat(self, conn: Conn) -> None:
        reply = self._act(conn, {"action": "heartbeat"})
        assert reply is not None and reply["type"] == "ack", reply
        assert ISO_RE.fullmatch(reply["serverTime"])

    def do_presence(self, conn: Conn, room: str | None) -> None:
        body: dict[str, Any] = {"action": "getPresence"}
        if room is None:
            expected = {c.user for c in self._db_live() if c.tenant == conn.tenant}
        else:
            body["roomId"] = room
            expected = {c.user for c in self._members(conn.tenant, room)}
        reply = self._act(conn, body)
        assert reply is not None and reply["type"] == "ack", reply
        users = [u["userId"] for u in reply["users"]]
        assert len(users) == len(set(users)) and set(users) == expected, (users, expected)

    @rule(data=st.data(), kind=st.sampled_from(LIFECYCLE))
    def lifecycle(self, data: st.DataObject, kind: str) -> None:
        """Connections come and go, die, expire and get cleaned (one weighted rule)."""
        if kind == "connect" and len(self.conns) < MAX_CONNS:
            tenant = data.draw(st.sampled_from(TENANTS), label="tenant")
            self.do_connect(tenant, data.draw(st.sampled_from(USERS), label="user"))
        elif kind == "disconnect" and (self.conns or self.ttl_pending):
            self.disconnect(data)
        elif kind == "kill" and self._actives():
            self.kill(data)
        elif kind == "expire" and self._unexpired():
            self.expire(data)
        elif kind == "act_while_expired" and self._expired(alive=True):
            self.act_while_expired(data)
        elif kind == "ttl_delete" and self._expired():
            self.ttl_delete(data)
        elif kind == "stream_cleanup" and self.ttl_pending:
            self.stream_cleanup(data, data.draw(st.booleans(), label="replay"))
        elif kind == "user_remove" and self.conns:
            self.user_remove_is_ignored(data)
        elif kind == "age" and self._actives():
            self.age(data)

    def age(self, data: st.DataObject) -> None:
        """Idle time passes: less than half the idle lifetime is left, so the connection's
        next action extends it and every membership (the mirror invariant checks them)."""
        conn = self._pick(data, self._actives())
        soon = int(time.time()) + 100
        self._set_expiry({"PK": {"S": f"CONN#{conn.cid}"}, "SK": {"S": "META"}}, soon)
        for room in conn.rooms:
            key = {"PK": {"S": f"ROOM#{conn.tenant}#{room}"}, "SK": {"S": f"CONN#{conn.cid}"}}
            self._set_expiry(key, soon)
        self.aged.add(conn.cid)

    def disconnect(self, data: st.DataObject) -> None:
        """$disconnect can arrive for any connection, killed or expired ones included."""
        cid = data.draw(st.sampled_from(sorted([*self.conns, *self.ttl_pending])), label="cid")
        self.world.disconnect(cid)
        self._cleanup([cid])

    def kill(self, data: st.DataObject) -> None:
        conn = self._pick(data, self._actives())
        self.world.transport.status[conn.cid] = 410
        conn.killed = True

    def _unexpired(self) -> list[str]:
        return sorted(c.cid for c in self.conns.values() if not c.expired)

    def expire(self, data: st.DataObject) -> None:
        conn = self._pick(data, self._unexpired())
        cid = conn.cid
        past = int(time.time()) - 1
        self._set_expiry({"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}}, past)
        for room in conn.rooms:
            key = {"PK": {"S": f"ROOM#{conn.tenant}#{room}"}, "SK": {"S": f"CONN#{cid}"}}
            self._set_expiry(key, past)
        conn.expired = True

    def _expired(self, *, alive: bool = False) -> list[str]:
        return sorted(c.cid for c in self.conns.values() if c.expired and not (alive and c.killed))

    def act_while_expired(self, data: st.DataObject) -> None:
        """The client is still there but its item expired: error frame, closed, cleaned."""
        conn = self._pick(data, self._expired(alive=True))
        cid = conn.cid
        assert self._act(conn, {"action": "heartbeat", "requestId": "late"}) is None
        self.inbox.setdefault(cid, []).append(("error", "heartbeat", "forbidden"))
        self._cleanup([cid])
        conn.killed = True  # DeleteConnection closed it: @connections now answers 410

    def ttl_delete(self, data: st.DataObject) -> None:
        """DynamoDB's TTL deletes the expired connection item (not its memberships)."""
        cid = self._pick(data, self._expired()).cid
        key = {"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}}
        old = self.world.dynamodb.delete_item(
            TableName=self.world.table, Key=key, ReturnValues="ALL_OLD"
        )["Attributes"]
        self.ttl_pending[cid] = (self.conns.pop(cid), old)

    def stream_cleanup(self, data: st.DataObject, replay: bool) -> None:
        cid = data.draw(st.sampled_from(sorted(self.ttl_pending)), label="cid")
        conn, image = self.ttl_pending[cid]
        record = {
            "eventName": "REMOVE",
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "dynamodb": {"OldImage": image, "SequenceNumber": cid},
        }
        for _ in range(2 if replay else 1):
            out = self.world.call("stream_cleanup", {"Records": [record]})
            assert out == {"batchItemFailures": []}
        self._cleanup([cid])
        conn.killed = True  # DeleteConnection closed it

    def user_remove_is_ignored(self, data: st.DataObject) -> None:
        """A REMOVE not made by TTL (an operator's delete) must not trigger cleanup."""
        cid = self._pick(data, sorted(self.conns)).cid
        item = self.world.dynamodb.get_item(
            TableName=self.world.table, Key={"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}}
        )["Item"]
        record = {
            "eventName": "REMOVE",
            "userIdentity": {"type": "User", "principalId": "operator"},
            "dynamodb": {"OldImage": item, "SequenceNumber": "1"},
        }
        assert self.world.call("stream_cleanup", {"Records": [record]}) == {"batchItemFailures": []}

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def table_matches_model(self) -> None:
        now = int(time.time())
        metas, memberships = {}, set()
        for item in _connection_items(self.world.table):
            if item["SK"]["S"] == "META":
                metas[item["connectionId"]["S"]] = int(item["expiresAt"]["N"]) > now
            else:
                memberships.add(
                    (item["connectionId"]["S"], item["tenantId"]["S"], item["roomId"]["S"])
                )
        assert metas == {cid: not c.expired for cid, c in self.conns.items()}
        owners = [*self.conns.values(), *(c for c, _ in self.ttl_pending.values())]
        assert memberships == {(c.cid, c.tenant, r) for c in owners for r in c.rooms}

    @invariant()
    def no_orphaned_membership(self) -> None:
        now = int(time.time())
        items = _connection_items(self.world.table)
        metas = {i["connectionId"]["S"]: i for i in items if i["SK"]["S"] == "META"}
        for item in items:
            if item["SK"]["S"] == "META":
                continue
            cid, expires = item["connectionId"]["S"], int(item["expiresAt"]["N"])
            meta = metas.get(cid)
            if meta is None:  # only between a TTL deletion and its stream record
                assert cid in self.ttl_pending and expires <= now, item
                continue
            assert meta["tenantId"] == item["tenantId"] and meta["userId"] == item["userId"]
            assert int(meta["expiresAt"]["N"]) == expires, "a membership mirrors its connection"

    @invariant()
    def inboxes_match_and_stay_in_tenant(self) -> None:
        sent = self.world.transport.sent
        for cid in set(sent) | set(self.inbox):
            got = [normalise(f) for f in sent.get(cid, [])]
            assert Counter(got) == Counter(self.inbox.get(cid, [])), cid
        for cid, frames in sent.items():
            for frame in frames:
                if frame["type"] != "message":
                    continue
                tenant, room, sender, targets = self.sent_by[frame["data"]["n"]]
                assert sender != cid, "a sender received its own message"
                assert cid in targets and self.tenant_of[cid] == tenant
                assert frame["messageId"] == self.message_ids[frame["data"]["n"]]
                assert frame["seq"] == self.seqs[frame["data"]["n"]]
                assert frame["roomId"] == room and ISO_RE.fullmatch(frame["sentAt"])

    @invariant()
    def attempted_410s_were_pruned(self) -> None:
        for cid in self.attempts:
            if self.world.transport.status.get(cid) == 410:
                assert cid not in self.conns, f"{cid} answered 410 but was not pruned"
        self.attempts.clear()


STATEFUL = settings(
    max_examples=15,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_rooms_model_two_tenants(world: World) -> None:
    run_state_machine_as_test(lambda: RoomsModel(world), settings=STATEFUL)


def test_model_catches_a_cross_tenant_delivery(world: World) -> None:
    """The invariant is not vacuous: a frame the model did not predict is caught."""
    machine = RoomsModel(world)
    a = machine.conns[machine.do_connect("acme", "u1")]
    b = machine.do_connect("globex", "u1")
    machine.do_join(a, "r1")
    machine.do_join(machine.conns[b], "r1")
    machine.do_send(a, "r1")
    machine.inboxes_match_and_stay_in_tenant()
    assert world.transport.sent.get(b, []) == []  # globex saw nothing of acme's room r1
    frame = {"type": "message", "roomId": "r1", "messageId": "x", "from": {"userId": "u1"}}
    world.transport.sent[b].append({**frame, "data": {"n": machine.counter}, "sentAt": "-"})
    try:
        machine.inboxes_match_and_stay_in_tenant()
    except AssertionError:
        return
    raise AssertionError("a cross-tenant frame went unnoticed")
