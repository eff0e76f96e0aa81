"""Presence (protocol v1.1) in the Python client and CLI, against the fake gateway: both forms
of the presence frame, member counts, and paging through the users online with a cursor."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

# isort: split
from tests.clients.test_python_cli import run_cli
from wsclient import ClientError, PresenceChanges, PresenceList, WsClient, presence_changes

if TYPE_CHECKING:
    from tests.clients.fake_protocol_server import FakeGateway

ROOM = "hall"
WAIT_S = 5.0


def users(n: int) -> list[str]:
    return [f"u{i:03d}" for i in range(n)]


def listed(page: dict[str, Any], key: str = "users") -> list[str]:
    return [entry["userId"] for entry in page[key]]


def frame(**fields: Any) -> dict[str, Any]:
    return {"type": "presence", "roomId": ROOM, **fields}


# ---- presence frames ------------------------------------------------------------------------


def test_presence_changes_reads_both_forms_as_set_changes() -> None:
    assert presence_changes(frame(event="join", userId="bob")) == PresenceChanges(
        ROOM, joined=("bob",)
    )
    assert presence_changes(frame(event="leave", userId="bob")) == PresenceChanges(
        ROOM, left=("bob",)
    )
    coalesced = frame(joined=["a", "b"], left=["c"])
    assert presence_changes(coalesced) == PresenceChanges(ROOM, ("a", "b"), ("c",))


def test_presence_changes_skips_what_is_not_a_user_id() -> None:
    assert presence_changes(frame(joined=["a", 7, None])) == PresenceChanges(ROOM, ("a",))
    assert presence_changes(frame(event="leave")) == PresenceChanges(ROOM)
    assert presence_changes(frame(joined="a", left={})) == PresenceChanges(ROOM)


def test_a_set_ends_the_same_whichever_form_the_changes_came_in() -> None:
    def apply(members: set[str], *frames: dict[str, Any]) -> set[str]:
        for each in frames:
            changes = presence_changes(each)
            members |= set(changes.joined)
            members -= set(changes.left)
        return members

    start = {"alice", "bob", "carol"}
    one_by_one = apply(
        set(start),
        frame(event="join", userId="dave"),
        frame(event="leave", userId="bob"),
        frame(event="join", userId="erin"),
    )
    coalesced = apply(set(start), frame(joined=["dave", "erin"], left=["bob"]))
    assert one_by_one == coalesced == {"alice", "carol", "dave", "erin"}


async def test_both_forms_reach_listeners_and_streams_as_sent(gateway: FakeGateway) -> None:
    transition = frame(event="join", userId="bob")
    coalesced = frame(joined=["carol", "dave"], left=["bob"])
    seen: list[dict[str, Any]] = []
    async with WsClient(gateway.url, "tok") as client:
        client.on("presence", seen.append)
        stream = client.events("presence")
        for each in (transition, coalesced, coalesced):  # applied twice as sets: no change
            await gateway.push(each)
        async with asyncio.timeout(WAIT_S):
            streamed = [await anext(stream) for _ in range(3)]
    assert seen == streamed == [transition, coalesced, coalesced]


# ---- joinRoom and getPresence fields --------------------------------------------------------


async def test_join_room_sends_limit_only_when_given_and_keeps_the_page_fields(
    gateway: FakeGateway,
) -> None:
    gateway.online = {"a": ["alice"], "b": users(9)}
    async with WsClient(gateway.url, "tok") as client:
        a = await client.join_room("a")
        b = await client.join_room("b", limit=5)
    sent = gateway.requests("joinRoom")
    assert sorted(sent[0]) == ["action", "requestId", "roomId"]
    assert sent[1]["limit"] == 5
    assert (a["memberCount"], "nextCursor" in a) == (1, False)
    assert listed(b, "members") == users(5)
    assert (b["memberCount"], b["nextCursor"], b["truncated"]) == (9, "u004", True)


async def test_get_presence_sends_room_cursor_and_limit_only_when_given(
    gateway: FakeGateway,
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]] = [
        ((), {}, {}),
        ((None,), {"limit": 3}, {"limit": 3}),
        ((ROOM,), {}, {"roomId": ROOM}),
        ((ROOM,), {"cursor": "u7", "limit": 2}, {"roomId": ROOM, "cursor": "u7", "limit": 2}),
    ]
    async with WsClient(gateway.url, "tok") as client:
        for args, options, _ in calls:
            await client.get_presence(*args, **options)
    sent = [
        {k: v for k, v in f.items() if k not in {"action", "requestId"}}
        for f in gateway.requests("getPresence")
    ]
    assert sent == [fields for _, _, fields in calls]


# ---- paging ---------------------------------------------------------------------------------


async def test_presence_pages_follow_next_cursor_to_the_last_page(gateway: FakeGateway) -> None:
    gateway.online = {ROOM: users(7)}
    async with WsClient(gateway.url, "tok") as client, asyncio.timeout(WAIT_S):  # never loop
        pages = [page async for page in client.presence_pages(ROOM, limit=3)]
    assert [listed(page) for page in pages] == [users(7)[:3], users(7)[3:6], users(7)[6:]]
    assert [(p["memberCount"], p.get("nextCursor")) for p in pages] == [
        (7, "u002"),
        (7, "u005"),
        (7, None),
    ]
    sent = gateway.requests("getPresence")
    assert [f.get("cursor") for f in sent] == [None, "u002", "u005"]
    assert all(f["limit"] == 3 and f["roomId"] == ROOM for f in sent)


async def test_presence_all_fetches_the_rest_of_a_join_ack_from_its_cursor(
    gateway: FakeGateway,
) -> None:
    gateway.online = {ROOM: users(250)}
    async with WsClient(gateway.url, "tok") as client:
        ack = await client.join_room(ROOM)
        rest = await client.presence_all(ROOM, cursor=ack["nextCursor"])
        everyone = await client.presence_all(ROOM)
    assert (listed(ack, "members"), ack["nextCursor"]) == (users(100), "u099")
    assert rest == PresenceList(users(250)[100:], 250)
    assert everyone == PresenceList(users(250), 250)
    assert len(gateway.requests("getPresence")) == 2 + 3  # pages of 100 by default


async def test_presence_all_of_the_tenant_and_from_a_v1_server(gateway: FakeGateway) -> None:
    gateway.online = {None: ["bob", "alice"]}
    async with WsClient(gateway.url, "tok") as client:
        tenant = await client.presence_all()
        # v1 cut the list at 500 and said so with truncated alone: no next page to ask for.
        gateway.scripted["getPresence"] = [{"users": [{"userId": "a"}], "truncated": True}]
        v1 = await client.presence_all(ROOM)
    assert tenant == PresenceList(["alice", "bob"], None)
    assert "roomId" not in gateway.requests("getPresence")[0]
    assert v1 == PresenceList(["a"], None)
    assert len(gateway.requests("getPresence")) == 2


async def test_each_page_is_read_as_the_room_is_then(gateway: FakeGateway) -> None:
    gateway.online = {ROOM: ["b", "d", "f"]}
    async with WsClient(gateway.url, "tok") as client:
        pages: list[dict[str, Any]] = []
        async for page in client.presence_pages(ROOM, limit=2):
            pages.append(page)
            gateway.online[ROOM] = ["a", "d", "e", "f"]  # a (before the cursor) and e joined
    # No a on the second page: it came before the cursor (presence frames tell of it).
    assert [listed(page) for page in pages] == [["b", "d"], ["e", "f"]]
    assert [page["memberCount"] for page in pages] == [3, 4]


async def test_a_failed_page_ends_the_paging_and_a_cursor_that_does_not_move_is_invalid(
    gateway: FakeGateway,
) -> None:
    gateway.online = {ROOM: users(5)}
    gateway.scripted["getPresence"] = [
        {},  # the first page as the server pages it, then a refusal
        {"type": "error", "code": "internal_error"},
        {"users": [], "nextCursor": "a"},  # asked after "a", answered "after a" again
    ]
    async with WsClient(gateway.url, "tok") as client:
        with pytest.raises(ClientError) as failed:
            await client.presence_all(ROOM, limit=2)
        with pytest.raises(ClientError) as looping:
            await client.presence_all(ROOM, cursor="a")
    assert failed.value.code == "internal_error"
    assert looping.value.code == "invalid_frame"
    assert [f.get("cursor") for f in gateway.requests("getPresence")] == [None, "u001", "a"]


async def test_paging_stops_with_disconnected_when_the_connection_drops(
    gateway: FakeGateway,
) -> None:
    gateway.silent = {"getPresence"}
    async with WsClient(gateway.url, "tok") as client:
        paging = asyncio.create_task(client.presence_all(ROOM))
        await gateway.next_frame("getPresence")
        await gateway.drop()
        with pytest.raises(ClientError) as caught:
            await asyncio.wait_for(paging, WAIT_S)
    assert caught.value.code == "disconnected"


# ---- the command line -----------------------------------------------------------------------


async def test_cli_presence_prints_every_page(gateway: FakeGateway) -> None:
    gateway.online = {ROOM: users(5)}
    run = await run_cli(gateway.url, "presence", ROOM, "--limit", "2")
    assert run.code == 0
    assert [listed(line) for line in run.lines] == [users(5)[:2], users(5)[2:4], users(5)[4:]]
    assert [f.get("cursor") for f in gateway.requests("getPresence")] == [None, "u001", "u003"]


async def test_cli_join_counts_the_members_beyond_the_first_page(gateway: FakeGateway) -> None:
    gateway.online = {ROOM: users(102)}

    async def server_side() -> None:
        await gateway.next_frame("joinRoom")
        await gateway.push(frame(joined=["z"]))

    pusher = asyncio.create_task(server_side())
    run = await run_cli(gateway.url, "join", ROOM, "--count", "1")
    await pusher
    assert run.code == 0
    assert f"joined {ROOM} (online: {', '.join(users(100))} and 2 more)" in run.err
    assert run.lines == [frame(joined=["z"])]
