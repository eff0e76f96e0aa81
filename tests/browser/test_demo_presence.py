"""Presence (protocol v1.1) on the demo page, in headless Chromium: a large room's coalesced
presence frames (`joined` / `left` lists) change the "Online in" list and count like the v1
per-user frames do, and a join ack's first page of members is completed page by page.

The coalesced frames come from a gateway whose coalescing threshold is 1 (every room of two
users or more is "large"); the paging from a page whose WebSocket the test stands between,
so that a room of 251 users costs no 251 connections.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from playwright.sync_api import expect
from websockets.sync.client import connect

from tests.browser.test_demo import _page
from tests.browser.test_demo_continuity import Member
from tests.integration.conftest import GatewayProcess, gateway_fixture
from tools.devtoken import mint

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page, WebSocketRoute

coalescing = gateway_fixture({"PRESENCE_COALESCE_THRESHOLD": "1", "PRESENCE_INTERVAL_SECONDS": "1"})


def _presence_frames(page: Page) -> list[dict[str, Any]]:
    """Every presence frame the page's WebSocket receives from now on."""
    frames: list[dict[str, Any]] = []

    def on_frame(payload: str | bytes) -> None:
        frame = json.loads(payload)
        if frame.get("type") == "presence":
            frames.append(frame)

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return frames


def test_coalesced_presence_frames_change_the_list_and_the_count(
    browser: Browser, coalescing: GatewayProcess, screenshots: Path
) -> None:
    page = _page(browser, "desktop")
    frames = _presence_frames(page)
    page.goto(f"{coalescing.base_url}/?user=alice&tenant=wide&room=hall")
    expect(page.locator("#presence-title")).to_have_text("Online in hall (1)")

    with connect(coalescing.url(mint("carol", "wide"))) as carol:
        with connect(coalescing.url(mint("bob", "wide"))) as bob:
            Member(bob, "hall")
            Member(carol, "hall")
            expect(page.locator("#presence-title")).to_have_text("Online in hall (3)")
            expect(page.locator("#presence li")).to_have_text(["alice (you)", "bob", "carol"])
        expect(page.locator("#presence-title")).to_have_text("Online in hall (2)")
        expect(page.locator("#presence li")).to_have_text(["alice (you)", "carol"])
        expect(page.locator("#messages")).to_contain_text("bob left")
    shot = screenshots / "demo-presence-coalesced-desktop.png"
    page.screenshot(path=str(shot), full_page=True)
    # The changes came in the large-room form only, one frame per interval.
    assert frames, "no presence frame"
    assert all("joined" in f and "left" in f and "event" not in f for f in frames), frames
    assert {u for f in frames for u in f["joined"]} <= {"bob", "carol"}
    assert ["bob"] in [f["left"] for f in frames]
    page.context.close()


def test_a_large_room_is_listed_page_by_page_and_coalesced_changes_apply(
    browser: Browser, coalescing: GatewayProcess, screenshots: Path
) -> None:
    """The gateway's join ack lists alice alone; the test says 250 more follow and answers
    the page's getPresence requests for them itself."""
    crowd = [f"u{i:03d}" for i in range(250)]  # all after "alice" in user id order
    asked: list[dict[str, Any]] = []
    routes: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        routes.append(ws)

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("action") != "getPresence":
                server.send(message)
                return
            asked.append(frame)
            after = [u for u in crowd if u > frame["cursor"]]
            page_users = after[: frame.get("limit", 100)]
            ack = {"type": "ack", "action": "getPresence", "requestId": frame["requestId"]}
            ack |= {"roomId": frame["roomId"], "memberCount": 251}
            ack["users"] = [{"userId": u} for u in page_users]
            if len(after) > len(page_users):
                ack |= {"nextCursor": page_users[-1], "truncated": True}
            ws.send(json.dumps(ack))

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "ack" and frame.get("action") == "joinRoom":
                assert [m["userId"] for m in frame["members"]] == ["alice"]
                frame |= {"memberCount": 251, "nextCursor": "alice", "truncated": True}
            ws.send(json.dumps(frame))

        ws.on_message(from_page)
        server.on_message(from_server)

    page = _page(browser, "desktop")
    page.route_web_socket(re.compile(r"/dev\?token="), route)
    page.goto(f"{coalescing.base_url}/?user=alice&tenant=crowded&room=arena")
    expect(page.locator("#presence-title")).to_have_text("Online in arena (251)")
    expect(page.locator("#presence li").last).to_have_text("and 51 more")
    expect(page.locator("#presence li")).to_have_count(201)  # 200 names, then the rest counted
    expect(page.locator("#presence li").nth(1)).to_have_text("u000")

    # While the list is partial the title shows the ack's memberCount; once every page is
    # in, the size of the set that presence frames change.
    coalesced = {"type": "presence", "roomId": "arena", "joined": ["zed"], "left": crowd[:2]}
    routes[0].send(json.dumps(coalesced))
    expect(page.locator("#presence-title")).to_have_text("Online in arena (250)")
    assert [f.get("cursor") for f in asked] == ["alice", "u099", "u199"]
    assert all(f["roomId"] == "arena" and "limit" not in f for f in asked)
    expect(page.locator("#presence li").nth(1)).to_have_text("u002")
    expect(page.locator("#messages")).to_contain_text("zed joined")
    expect(page.locator("#messages")).to_contain_text("u000 and u001 left")
    # A per-user (v1) frame changes the same set.
    transition = {"type": "presence", "roomId": "arena", "event": "join", "userId": "aaron"}
    routes[0].send(json.dumps(transition))
    expect(page.locator("#presence-title")).to_have_text("Online in arena (251)")
    expect(page.locator("#presence li").first).to_have_text("aaron")
    expect(page.locator("#messages")).to_contain_text("aaron joined")
    expect(page.locator("#chat-error")).to_have_text("")
    page.screenshot(path=str(screenshots / "demo-presence-paged-desktop.png"), full_page=True)
    page.context.close()


def test_a_failed_page_leaves_the_count_and_says_so(
    browser: Browser, coalescing: GatewayProcess
) -> None:
    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("action") == "getPresence":
                error = {"type": "error", "action": "getPresence", "code": "internal_error"}
                error |= {"requestId": frame["requestId"], "message": "try again later"}
                ws.send(json.dumps(error))
            else:
                server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "ack" and frame.get("action") == "joinRoom":
                frame |= {"memberCount": 120, "nextCursor": "alice", "truncated": True}
            ws.send(json.dumps(frame))

        ws.on_message(from_page)
        server.on_message(from_server)

    page = _page(browser, "desktop")
    page.route_web_socket(re.compile(r"/dev\?token="), route)
    page.goto(f"{coalescing.base_url}/?user=alice&tenant=failing&room=arena")
    expect(page.locator("#chat-error")).to_have_text(
        "Could not list everyone online in arena: try again later"
    )
    expect(page.locator("#presence-title")).to_have_text("Online in arena (120)")
    expect(page.locator("#presence li")).to_have_text(["alice (you)"])
    page.context.close()
