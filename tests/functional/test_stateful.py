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

Delivery continuity (v1.1, docs/PROTOCOL.md): each user's application in each room (`App`,
over all the user's connections) takes the live frames its connections receive, ordered
and de-duplicated as a client does (docs/CLIENTS.md). Deliveries fail: a user's device goes
offline (its sockets die silently) or its network is throttled (429 to every post until it
recovers) while the others talk in its rooms; killed, closed and expired connections miss
everything too. A reconnect (one of the user's sockets gets its $disconnect, a new
connection rejoins every room the application tracks) and a resume (a client's gap timer)
page through getHistory after the last seq the application delivered until hasMore is
false. Checked:
- after every step, each application got exactly the messages acknowledged to their
  senders in the room since its first join (minus its user's own), in seq order, each
  once, up to the last seq it delivered: no duplicate, no reordering, no gap;
- after every resume, all of them: nothing is missing (retention, 24 h, covers any outage),
  and the history pages hold exactly the frames delivered live, paged as documented.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
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
    *("offline", "throttle", "reconnect", "reconnect", "reconnect"),  # v1.1 continuity
)
CLIENT_ACTIONS = ("join", "join", *("send",) * 4, "leave", "heartbeat", "presence", "resume")

Frame = tuple[Any, ...]


@dataclass
class Conn:
    cid: str
    tenant: str
    user: str
    killed: bool = False
    expired: bool = False
    throttled: bool = False
    rooms: set[str] = field(default_factory=set)


@dataclass
class App:
    """One user's application in one room, over all the user's connections (docs/CLIENTS.md).

    It starts at its first join ack's latestSeq. Frames, live or from history, are held by
    seq and handed over strictly in order, each messageId once; the user's own acked
    messages count as delivered (the sender's application has them).
    """

    start: int
    last: int
    held: dict[int, str | None] = field(default_factory=dict)  # seq: messageId (None: own)
    seen: set[str] = field(default_factory=set)
    delivered: list[tuple[int, str]] = field(default_factory=list)  # (seq, messageId)

    def take(self, seq: int, message_id: str) -> None:
        if seq > self.last and message_id not in self.seen:
            self.held.setdefault(seq, message_id)
        else:
            event("duplicate frame dropped by the application")
        self._advance()

    def own(self, seq: int, message_id: str) -> None:
        self.seen.add(message_id)
        if seq > self.last:
            self.held[seq] = None
        self._advance()

    def _advance(self) -> None:
        while self.last + 1 in self.held:
            self.last += 1
            message_id = self.held.pop(self.last)
            if message_id is not None and message_id not in self.seen:
                self.seen.add(message_id)
                self.delivered.append((self.last, message_id))


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
        self.apps: dict[tuple[str, str, str], App] = {}  # (tenant, user, room)
        self.read: dict[str, int] = {}  # frames of each connection handed to its application
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

    def _pump(self) -> None:
        """Hand the message frames received since the last call to their applications.

        Called between steps: a sender's application counts its message as its own (from
        the ack) before its user's other connections' copies reach it.
        """
        for cid, frames in self.world.transport.sent.items():
            user, tenant = self.world.who[cid]
            for frame in frames[self.read.get(cid, 0) :]:
                if frame["type"] == "message":
                    app = self.apps.get((tenant, user, frame["roomId"]))
                    assert app is not None, f"{cid}: a frame for a room its user left"
                    app.take(frame["seq"], frame["messageId"])
            self.read[cid] = len(frames)

    def _set_expiry(self, key: dict[str, Any], when: int, attribute: str = "expiresAt") -> None:
        self.world.dynamodb.update_item(
            TableName=self.world.table,
            Key=key,
            UpdateExpression=f"SET {attribute} = :e",
            ExpressionAttributeValues={":e": {"N": str(when)}},
        )

    # -- the model's view of the table ----------------------------------------------------
    def _db_live(self) -> list[Conn]:
        return [c for c in self.conns.values() if not c.expired]

    def _members(self, tenant: str, room: str) -> list[Conn]:
        return [c for c in self._db_live() if c.tenant == tenant and room in c.rooms]

    def _holders(self, tenant: str, user: str, room: str, exclude: str = "") -> list[Conn]:
        """The user's connections in the room's presence: every membership not cleaned up
        yet, expired or killed ones included (a user goes offline when the last is)."""
        owners = [*self.conns.values(), *(c for c, _ in self.ttl_pending.values())]
        return [
            c
            for c in owners
            if (c.tenant, c.user) == (tenant, user) and room in c.rooms and c.cid != exclude
        ]

    def _present(self, tenant: str, room: str) -> set[str]:
        """Users counted in the room (memberCount): those with a connection in presence."""
        return {u for u in USERS if self._holders(tenant, u, room)}

    def _deliver(self, targets: list[Conn], frame: Frame) -> list[str]:
        """Post to each target: a killed one answers 410 and is reported gone."""
        gone = []
        for target in targets:
            if target.killed:
                event("delivery attempt to a killed connection (410)")
                gone.append(target.cid)
            elif target.throttled:
                event("delivery throttled (429): a gap for history to fill")
            else:
                self.inbox.setdefault(target.cid, []).append(frame)
        return gone

    def _announce_leaves(self, conn: Conn, rooms: set[str]) -> list[str]:
        gone: list[str] = []
        for room in sorted(rooms):
            if self._holders(conn.tenant, conn.user, room, exclude=conn.cid):
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
        elif kind == "resume":  # the client's gap timer fires (or it just asks)
            rooms = [k[2] for k in self.apps if k[:2] == (conn.tenant, conn.user)]
            behind = [r for r in rooms if self._behind((conn.tenant, conn.user, r))]
            if rooms:
                room = data.draw(st.sampled_from(sorted(behind or rooms)), label="room")
                self.resume(conn, room, data.draw(st.integers(1, 3), label="limit"))
            else:  # nothing to resume: the client heartbeats instead
                self.do_heartbeat(conn)
        else:
            self.do_presence(conn, data.draw(st.sampled_from((*ROOMS, None)), label="room"))

    def do_join(self, conn: Conn, room: str) -> None:
        cid = conn.cid
        already = room in conn.rooms
        others = self._holders(conn.tenant, conn.user, room, exclude=cid)
        conn.rooms.add(room)
        members = self._members(conn.tenant, room)
        gone: list[str] = []
        if not already and not others:
            targets = [c for c in members if c.cid != cid]
            gone = self._deliver(targets, ("presence", room, "join", conn.user))
        self._prune(gone)
        # the ack lists the room after the announcement pruned the gone connections
        expected_users = {c.user for c in self._members(conn.tenant, room)}
        ack = self._act(conn, {"action": "joinRoom", "roomId": room, "requestId": "j"})
        assert ack is not None and ack["type"] == "ack" and ack["requestId"] == "j", ack
        users = [m["userId"] for m in ack["members"]]
        assert len(users) == len(set(users)) and set(users) == expected_users
        assert ack["memberCount"] == len(self._present(conn.tenant, room)), ack
        assert ack["latestSeq"] == self.room_seq.get((conn.tenant, room), 0), ack
        # the user's first join starts its application's numbering; a rejoin changes nothing
        latest = ack["latestSeq"]
        self.apps.setdefault((conn.tenant, conn.user, room), App(start=latest, last=latest))

    def do_leave(self, conn: Conn, room: str) -> None:
        reply = self._act(conn, {"action": "leaveRoom", "roomId": room})
        assert reply is not None
        if room not in conn.rooms:
            assert reply["type"] == "error" and reply["code"] == "not_member", reply
            return
        assert reply["type"] == "ack" and reply["roomId"] == room, reply
        conn.rooms.discard(room)
        if not self._app_connections(conn.tenant, conn.user, room):
            self._pump()
            del self.apps[(conn.tenant, conn.user, room)]  # leaveRoom forgets the position
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
        self.apps[(conn.tenant, conn.user, room)].own(reply["seq"], reply["messageId"])
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
        if room is not None:
            assert reply["memberCount"] == len(self._present(conn.tenant, room)), reply

    @precondition(lambda self: self._actives())
    @rule(data=st.data(), how=st.sampled_from(("join", "leave", "disconnect")))
    def same_user_at_once(self, data: st.DataObject, how: str) -> None:
        """Two connections of one user join a room, leave it, or disconnect at the same
        instant (issue 12's race): the other members hear exactly one `join` per offline ->
        online change and one `leave` per online -> offline change. The user's own two
        connections may hear each other's announcement or not (a matter of timing): what
        they got is taken as it came, and must be about their own user."""
        conn = self._pick(data, self._actives())
        tenant, user = conn.tenant, conn.user
        mine = [
            c
            for c in self._online()
            if (c.tenant, c.user) == (tenant, user) and c is not conn and not c.throttled
        ]
        if not mine and len(self.conns) >= MAX_CONNS:
            return
        pair = [conn, mine[0] if mine else self.conns[self.do_connect(tenant, user)]]
        if conn.throttled:
            return
        room = data.draw(st.sampled_from(ROOMS), label="room")
        for c in pair:  # set the scene one step at a time
            if how == "join" and room in c.rooms:
                self.do_leave(c, room)
            elif how == "leave" and room not in c.rooms:
                self.do_join(c, room)
        if any(c.cid not in self.conns for c in pair):
            return  # a scene-setting announcement pruned one of them
        owners = [*self.conns.values(), *(c for c, _ in self.ttl_pending.values())]
        if any(
            c.tenant == tenant and room in c.rooms and (c.killed or c.expired or c.throttled)
            for c in owners
        ):
            return  # the race is checked in a calm room; cascades are other rules' business
        sent = self.world.transport.sent
        before = {c.cid: len(sent.get(c.cid, [])) for c in pair}
        bodies = {"join": {"action": "joinRoom", "roomId": room}}
        bodies["leave"] = {"action": "leaveRoom", "roomId": room}
        replies: dict[str, Any] = {}

        def run(c: Conn) -> None:
            if how == "disconnect":
                self.world.disconnect(c.cid)
            else:
                replies[c.cid] = self._act(c, bodies[how])

        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=lambda c=c: (barrier.wait(), run(c))) for c in pair]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        event(f"same user at once: {how}")
        if how == "disconnect":
            self._cleanup([c.cid for c in pair])
        else:
            assert all(r is not None and r["type"] == "ack" for r in replies.values()), replies
            others = self._holders(tenant, user, room, exclude=pair[0].cid)
            others = [c for c in others if c is not pair[1]]
            for c in pair:
                (c.rooms.add if how == "join" else c.rooms.discard)(room)
            if how == "join":
                latest = replies[pair[0].cid]["latestSeq"]
                self.apps.setdefault((tenant, user, room), App(start=latest, last=latest))
            elif not self._app_connections(tenant, user, room):
                self._pump()
                self.apps.pop((tenant, user, room), None)
            if not others:  # the user came online or went offline: one announcement
                targets = [c for c in self._members(tenant, room) if c not in pair]
                self._prune(self._deliver(targets, ("presence", room, how, user)))
        for c in pair:  # what the pair heard of itself, taken as it came
            for frame in sent.get(c.cid, [])[before[c.cid] :]:
                got = normalise(frame)
                assert got[0] == "presence" and got[3] == user, got
                self.inbox.setdefault(c.cid, []).append(got)

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
        elif kind in ("offline", "throttle") and self._actives():
            tracked = [c.cid for c in self._online() if (c.tenant, c.user) in self._app_users()]
            self.network_trouble(data, kind, self._pick(data, tracked or self._actives()))
        elif kind == "reconnect" and self.apps:
            self.reconnect(data, data.draw(st.integers(1, 3), label="limit"))

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
        self._kill(self._pick(data, self._actives()))

    def _kill(self, conn: Conn) -> None:
        self.world.transport.status[conn.cid] = 410
        conn.killed = True

    def _unexpired(self) -> list[str]:
        return sorted(c.cid for c in self.conns.values() if not c.expired)

    def expire(self, data: st.DataObject) -> None:
        conn = self._pick(data, self._unexpired())
        cid = conn.cid
        past = int(time.time()) - 1
        self._set_expiry({"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}}, past)
        conn.expired = True
        for room in conn.rooms:
            key = {"PK": {"S": f"ROOM#{conn.tenant}#{room}"}, "SK": {"S": f"CONN#{cid}"}}
            self._set_expiry(key, past)
            presence = {"PK": key["PK"], "SK": {"S": f"USER#{conn.user}"}}
            self._set_expiry(presence, past, f"live_{cid}")  # the user's presence mirrors it

    def _expired(self, *, alive: bool = False) -> list[str]:
        return sorted(c.cid for c in self.conns.values() if c.expired and not (alive and c.killed))

    def act_while_expired(self, data: st.DataObject) -> None:
        """The client is still there but its item expired: error frame, closed, cleaned."""
        conn = self._pick(data, self._expired(alive=True))
        cid = conn.cid
        assert self._act(conn, {"action": "heartbeat", "requestId": "late"}) is None
        if not conn.throttled:  # the last frame before the close is lost like any other
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

    # -- delivery continuity (v1.1) ---------------------------------------------------
    def _app_connections(self, tenant: str, user: str, room: str) -> list[Conn]:
        """The user's connections in the room that can still receive its frames."""
        return [c for c in self._members(tenant, room) if c.user == user and not c.killed]

    def _online(self) -> list[Conn]:
        return [self.conns[cid] for cid in self._actives()]

    def network_trouble(self, data: st.DataObject, kind: str, conn: Conn) -> None:
        """The user's device goes offline (every socket dies silently: 410 from then on) or
        its network is throttled (@connections answers 429 to every post, retries too, until
        the next throttle step recovers it); the others talk meanwhile in its rooms."""
        tenant, user = conn.tenant, conn.user
        mine = [c for c in self._online() if (c.tenant, c.user) == (tenant, user)]
        throttled = kind == "throttle" and not any(c.throttled for c in mine)
        for c in mine:
            if kind == "offline":
                self._kill(c)
            elif throttled:
                c.throttled = True
                self.world.transport.status[c.cid] = 429
            else:
                c.throttled = False
                self.world.transport.status.pop(c.cid, None)
        if kind == "offline" or throttled:
            self._others_talk(data, tenant, user)

    def _others_talk(self, data: st.DataObject, tenant: str, user: str) -> None:
        """Meanwhile other users talk in the user's rooms (connecting and joining first if
        need be)."""
        rooms = sorted({k[2] for k in self.apps if k[:2] == (tenant, user)})
        others = [c.cid for c in self._online() if c.tenant == tenant and c.user != user]
        if rooms and not others and len(self.conns) < MAX_CONNS:
            others = [self.do_connect(tenant, next(u for u in USERS if u != user))]
        for _ in range(data.draw(st.integers(1, 3), label="messages") if rooms and others else 0):
            talker = self._pick(data, others)
            room = data.draw(st.sampled_from(rooms), label="room")
            if room not in talker.rooms:
                self.do_join(talker, room)
            self.do_send(talker, room)

    def _app_users(self) -> set[tuple[str, str]]:
        return {(tenant, user) for tenant, user, _ in self.apps}

    def _behind(self, key: tuple[str, str, str]) -> bool:
        """The application missed a message (lost, or sent while it was cut off)."""
        return self.apps[key].last < self.room_seq.get((key[0], key[2]), 0)

    def reconnect(self, data: st.DataObject, limit: int) -> None:
        """A user's socket drops ($disconnect) and its client comes back on a new connection
        (mostly a user that missed messages): it rejoins every room its application tracks
        and resumes each from history."""
        users = sorted({k[:2] for k in self.apps if self._behind(k)} or self._app_users())
        tenant, user = data.draw(st.sampled_from(users), label="who")
        mine = sorted(c.cid for c in self.conns.values() if (c.tenant, c.user) == (tenant, user))
        if mine:  # dead (killed, expired, throttled) or not
            dropped = data.draw(st.sampled_from(mine), label="dropped")
            self.world.disconnect(dropped)
            self._cleanup([dropped])
        if len(self.conns) >= MAX_CONNS:
            event("reconnect: no room for another connection")
            return
        conn = self.conns[self.do_connect(tenant, user)]
        for t, u, room in sorted(self.apps):
            if (t, u) == (tenant, user):
                self.do_join(conn, room)
                self.resume(conn, room, limit)

    def resume(self, conn: Conn, room: str, limit: int) -> None:
        """Page through getHistory after the last seq the application delivered until hasMore
        is false (as a client does after a rejoin, or when its gap timer fires); then the
        application has every message acknowledged since its first join, in order, once."""
        key = (conn.tenant, conn.user, room)
        app, latest = self.apps[key], self.room_seq.get((conn.tenant, room), 0)
        self._pump()
        missing = len(self._expected(key)) - len(app.delivered)
        while True:
            after = app.last
            body = {"action": "getHistory", "roomId": room, "afterSeq": after, "limit": limit}
            ack = self._act(conn, body)
            assert ack is not None and ack["type"] == "ack" and ack["roomId"] == room, ack
            # nothing expired (retention: 24 h), so nothing is a discontinuity
            assert (ack["latestSeq"], ack["earliestSeq"]) == (latest, 1), ack
            seqs = [m["seq"] for m in ack["messages"]]
            assert seqs == list(range(after + 1, min(after + limit, latest) + 1)), (after, ack)
            assert ack["hasMore"] == (after + len(seqs) < latest), ack
            for message in ack["messages"]:  # the frames exactly as they were delivered
                n = message["data"]["n"]
                tenant, sent_room, sender, _ = self.sent_by[n]
                assert (tenant, sent_room) == (conn.tenant, room), message
                assert message["from"]["userId"] == self.world.who[sender][0], message
                assert (message["messageId"], message["seq"]) == (self.message_ids[n], self.seqs[n])
                app.take(message["seq"], message["messageId"])
            if not ack["hasMore"]:
                break
        assert app.last == latest and not app.held, (app, latest)
        assert app.delivered == self._expected(key), "the promise: all of them, in order, once"
        event(f"resume filled {min(missing, 3)}{'+' if missing >= 3 else ''} message(s)")

    def _expected(self, key: tuple[str, str, str]) -> list[tuple[int, str]]:
        """The messages acknowledged in the room since the application's first join, except
        its user's own, in seq order: what the promise says the application gets."""
        tenant, user, room = key
        return sorted(
            (self.seqs[n], self.message_ids[n])
            for n, (t, r, sender, _) in self.sent_by.items()
            if (t, r) == (tenant, room)
            and self.world.who[sender][0] != user
            and self.seqs[n] > self.apps[key].start
        )

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def applications_in_room_order(self) -> None:
        """Up to the last seq it delivered, each application has exactly what it should."""
        self._pump()
        for key, app in self.apps.items():
            expected = self._expected(key)
            assert app.delivered == [m for m in expected if m[0] <= app.last], key

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
    max_examples=20,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_rooms_model_two_tenants(
    world: World, monkeypatch: pytest.MonkeyPatch, fresh: Callable[[], None]
) -> None:
    monkeypatch.setenv("FANOUT_THRESHOLD", "100")  # the model delivers every frame directly
    fresh()
    run_state_machine_as_test(lambda: RoomsModel(world), settings=STATEFUL)


def test_model_catches_a_lost_message(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The promise is checked: a message lost live and missing from history is caught."""
    monkeypatch.setattr(f"{__name__}.event", lambda _: None)  # outside hypothesis
    machine = RoomsModel(world)
    a = machine.conns[machine.do_connect("acme", "u1")]
    b = machine.conns[machine.do_connect("acme", "u2")]
    machine.do_join(a, "r1")
    machine.do_join(b, "r1")
    machine._kill(b)  # u2's device goes offline
    machine.do_send(a, "r1")
    machine.do_send(a, "r1")
    c = machine.conns[machine.do_connect("acme", "u2")]
    machine.do_join(c, "r1")
    machine.applications_in_room_order()  # u2's application is behind, not wrong
    key = {"PK": {"S": "HIST#acme#r1"}, "SK": {"S": f"SEQ#{1:012d}"}}
    world.dynamodb.delete_item(TableName=world.table, Key=key)
    try:
        machine.resume(c, "r1", limit=3)
    except AssertionError:
        return
    raise AssertionError("a message missing from history went unnoticed")


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
