"""Presence (protocol v1.1) through the Python client against the local gateway and the real
handlers: the paging helpers follow the server's own cursors, and a member set kept from
coalesced presence frames (a gateway that coalesces every room of two) matches the list."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from tests.integration.conftest import GatewayProcess, gateway_fixture
from tools.devtoken import mint
from wsclient import WsClient, presence_changes

if TYPE_CHECKING:
    from wsclient.client import EventStream

coalescing = gateway_fixture(
    {"LOG_LEVEL": "WARNING", "PRESENCE_COALESCE_THRESHOLD": "1", "PRESENCE_INTERVAL_SECONDS": "1"}
)
TENANT = "pager"
ROOM = "pg-room"
WAIT_S = 15.0


async def _until_equal(
    members: set[str], stream: EventStream, expected: set[str]
) -> list[dict[str, Any]]:
    """Apply presence frames to `members` until it is `expected` (bounded wait); returns
    the frames applied."""
    applied: list[dict[str, Any]] = []

    async def follow() -> None:
        while members != expected:
            applied.append(await anext(stream))
            changes = presence_changes(applied[-1])
            members.update(changes.joined)
            members.difference_update(changes.left)

    await asyncio.wait_for(follow(), WAIT_S)
    return applied


async def test_paging_and_coalesced_frames_against_the_real_handlers(
    coalescing: GatewayProcess,
) -> None:
    names = [f"pg{i}" for i in range(5)]
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                WsClient(coalescing.ws_url, token=lambda user=user: mint(user, TENANT))
            )
            for user in names
        ]
        watcher = clients[0]
        frames = watcher.events("presence")
        ack = await watcher.join_room(ROOM, limit=2)
        members = {m["userId"] for m in ack["members"]}
        for client in clients[1:]:
            await client.join_room(ROOM)

        listed = await watcher.presence_all(ROOM, limit=2)  # three pages of the server's
        assert (listed.user_ids, listed.member_count) == (names, 5)
        pages = [page async for page in watcher.presence_pages(ROOM, limit=2)]
        assert [len(page["users"]) for page in pages] == [2, 2, 1]
        assert all(page["nextCursor"] == page["users"][-1]["userId"] for page in pages[:2])
        assert "nextCursor" not in pages[-1]
        rest = await watcher.presence_all(ROOM, cursor=pages[0]["nextCursor"])
        assert rest.user_ids == names[2:]
        tenant = await watcher.presence_all(limit=2)  # the whole tenant, paged the same way
        assert (tenant.user_ids, tenant.member_count) == (names, None)

        applied = await _until_equal(members, frames, set(names))
        await clients[3].leave_room(ROOM)
        await clients[4].close()
        applied += await _until_equal(members, frames, set(names[:3]))
        # Every change came coalesced (the room has more users than the threshold of 1).
        assert all("joined" in f and "event" not in f for f in applied), applied
        after = await watcher.presence_all(ROOM)
        assert (after.user_ids, after.member_count) == (names[:3], 3)
