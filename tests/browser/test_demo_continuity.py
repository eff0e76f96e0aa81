"""Delivery continuity (protocol v1.1) on the demo page, in headless Chromium at desktop and
phone sizes: a room's last messages shown on joining it, each message once at the seam
between history and live delivery, the catch-up after a reconnect ("Caught up: N missed
messages") and the notice when missed messages expired. Screenshots go to
build/screenshots/.

The other member of each room is a plain WebSocket client (`Member`), so that what it sends
is acknowledged, numbered and stored before the test goes on.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from tests.browser.test_demo import SIZES, _no_horizontal_scroll, _open, _page
from tests.integration.conftest import GatewayProcess, gateway_fixture
from tools.devtoken import mint

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from playwright.sync_api import Browser, Locator, Page, WebSocketRoute
    from websockets.sync.client import ClientConnection

    MemberFactory = Callable[[GatewayProcess, str, str], "Member"]

ROOM = "lobby"
BACK_MS = 20_000  # a cut of up to 4 s, then the page's next attempt (within 4 s)
# History kept 2 s: a member away for longer finds the messages sent meanwhile expired.
short_history = gateway_fixture({"HISTORY_RETENTION_SECONDS": "2"})


class Member:
    """Another user of the room, on a WebSocket of its own: joins, sends, waits for acks."""

    def __init__(self, ws: ClientConnection, room: str = ROOM) -> None:
        self.ws = ws
        self.room = room
        self.requests = 0
        self.request("joinRoom", roomId=room)

    def request(self, action: str, **fields: Any) -> dict[str, Any]:
        self.requests += 1
        request_id = f"r{self.requests}"
        self.ws.send(json.dumps({"action": action, "requestId": request_id, **fields}))
        while True:  # the room's frames for this member come and go meanwhile
            frame: dict[str, Any] = json.loads(self.ws.recv(timeout=15))
            if frame.get("requestId") == request_id:
                assert frame["type"] == "ack", frame
                return frame

    def send(self, *texts: str) -> list[dict[str, Any]]:
        return [self.request("sendMessage", roomId=self.room, data={"text": t}) for t in texts]


@pytest.fixture
def member() -> Iterator[Callable[[GatewayProcess, str, str], Member]]:
    """Opens members (closed after the test): member(gateway, user, tenant)."""
    with ExitStack() as stack:

        def open_member(gw: GatewayProcess, user: str, tenant: str) -> Member:
            return Member(stack.enter_context(connect(gw.url(mint(user, tenant)))))

        yield open_member


def _lines(page: Page) -> list[str]:
    """The transcript as the user reads it: one string per line, "sender text"."""
    script = "lis => lis.map(li => [...li.querySelectorAll('.from, .text')]"
    script += ".map(span => span.textContent).join(' '))"
    return list(page.locator("#messages li").evaluate_all(script))


def _last(page: Page) -> Locator:
    """The text of the transcript's last line (without its sender)."""
    return page.locator("#messages li").last.locator(".text")


def _cut(gw: GatewayProcess, tenant: str, user: str, seconds: float) -> None:
    body = {"cut": {"tenantId": tenant, "userId": user, "seconds": seconds}}
    status, answer = gw.request("POST", f"/{gw.stage}/_dev/faults", json.dumps(body).encode())
    assert status == 200, answer
    assert answer["closed"] >= 1, answer  # the page's connection was cut


# -- joining a room with history -------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_joining_a_room_shows_the_messages_sent_before(
    browser: Browser,
    gateway: GatewayProcess,
    member: MemberFactory,
    screenshots: Path,
    size: str,
) -> None:
    tenant = f"history-{size}"
    bob = member(gateway, "bob", tenant)
    bob.send("first, before alice came", "second", "third <b>not markup</b>")

    alice = _open(browser, gateway, "alice", tenant, ROOM, size=size)
    expect(alice.locator("#messages li").nth(4)).to_have_text(f"You joined {ROOM}")
    assert _lines(alice) == [
        "3 messages before you joined",
        "bob first, before alice came",
        "bob second",
        "bob third <b>not markup</b>",  # text, never markup
        f"You joined {ROOM}",
    ]
    expect(alice.locator("#messages b")).to_have_count(0)
    expect(alice.locator("#messages-empty")).to_be_hidden()

    bob.send("live, after the join")
    expect(_last(alice)).to_have_text("live, after the join")
    alice.fill("#text", "hi bob")
    alice.press("#text", "Enter")
    expect(_last(alice)).to_have_text("hi bob")
    _no_horizontal_scroll(alice)
    alice.screenshot(path=str(screenshots / f"demo-history-{size}.png"), full_page=True)

    # A second tab of alice: her own message from history is shown as hers.
    again = _open(browser, gateway, "alice", tenant, ROOM, size=size)
    expect(again.locator("#messages li").first).to_have_text("5 messages before you joined")
    expect(again.locator("#messages li.mine .from")).to_have_text(["alice (you)"])
    assert _lines(again)[-1] == f"You joined {ROOM}"
    alice.context.close()
    again.context.close()


def test_a_message_both_in_history_and_delivered_live_is_shown_once(
    browser: Browser, gateway: GatewayProcess, member: MemberFactory
) -> None:
    """The page's getHistory is held back until two more messages were sent and delivered
    live: the history page then holds them too, and each still shows once, in order."""
    tenant = "seam"
    bob = member(gateway, "bob", tenant)
    bob.send("before 1", "before 2")

    held: list[str] = []
    servers: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        servers.append(server)

        def from_page(message: str | bytes) -> None:
            if isinstance(message, str) and '"getHistory"' in message and not held:
                held.append(message)  # the first history request waits for the test
            else:
                server.send(message)

        ws.on_message(from_page)

    page = _page(browser, "desktop")
    page.route_web_socket(re.compile(r"/dev\?token="), route)
    page.goto(f"{gateway.base_url}/?user=alice&tenant={tenant}&room={ROOM}")
    expect(page.locator("#messages li").first).to_have_text(f"You joined {ROOM}")
    assert len(held) == 1

    bob.send("during 1", "during 2")  # after alice's join, before her history is read
    expect(_last(page)).to_have_text("during 2")
    servers[0].send(held[0])  # the history page now ends with "during 2" as well
    expect(page.locator("#messages li").first).to_have_text("2 messages before you joined")
    assert _lines(page) == [
        "2 messages before you joined",
        "bob before 1",
        "bob before 2",
        f"You joined {ROOM}",
        "bob during 1",
        "bob during 2",
    ]
    bob.send("after")
    expect(_last(page)).to_have_text("after")
    assert len(_lines(page)) == 7
    page.context.close()


# -- catching up after a reconnect -----------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_after_a_cut_the_page_shows_every_missed_message_once_and_says_how_many(
    browser: Browser,
    gateway: GatewayProcess,
    member: MemberFactory,
    screenshots: Path,
    size: str,
) -> None:
    tenant = f"cut-{size}"
    alice = _open(browser, gateway, "alice", tenant, ROOM, size=size)
    bob = member(gateway, "bob", tenant)
    expect(alice.locator("#presence")).to_contain_text("bob")
    bob.send("before the cut")
    expect(_last(alice)).to_have_text("before the cut")

    _cut(gateway, tenant, "alice", 3)  # her network is gone for 3 s
    expect(alice.locator("#offline")).to_be_visible()
    expect(alice.locator("#status")).to_have_attribute("data-state", "reconnecting")
    missed = [f"missed {n}" for n in range(1, 6)]
    bob.send(*missed)

    # Back once the cut is over: the page retries at least every 4 s.
    expect(alice.locator("#status")).to_have_attribute("data-state", "open", timeout=BACK_MS)
    notice = alice.locator("#messages li.notice")
    expect(notice).to_have_text("Caught up: 5 missed messages")
    expect(alice.locator("#offline")).to_be_hidden()
    lines = _lines(alice)
    start = lines.index("bob before the cut")
    assert lines[start:] == [
        "bob before the cut",
        *(f"bob {text}" for text in missed),
        "Caught up: 5 missed messages",
    ]
    _no_horizontal_scroll(alice)
    alice.screenshot(path=str(screenshots / f"demo-caught-up-{size}.png"), full_page=True)

    bob.send("live again")
    expect(_last(alice)).to_have_text("live again")
    expect(notice).to_have_count(1)
    assert len(_lines(alice)) == len(lines) + 1
    alice.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_missed_messages_that_expired_are_a_visible_notice_with_a_reload(
    browser: Browser,
    short_history: GatewayProcess,
    member: MemberFactory,
    screenshots: Path,
    size: str,
) -> None:
    gw = short_history
    tenant = f"expired-{size}"
    alice = _open(browser, gw, "alice", tenant, ROOM, size=size)
    bob = member(gw, "bob", tenant)
    bob.send("before the cut")
    expect(_last(alice)).to_have_text("before the cut")

    _cut(gw, tenant, "alice", 4)  # longer than the 2 s of history
    expect(alice.locator("#status")).to_have_attribute("data-state", "reconnecting")
    bob.send("lost 1", "lost 2", "lost 3")

    # Back once the cut is over: the page retries at least every 4 s.
    expect(alice.locator("#status")).to_have_attribute("data-state", "open", timeout=BACK_MS)
    warning = alice.locator("#messages li.warning")
    expect(warning).to_contain_text(
        f"Some messages expired while you were away: 3 messages in {ROOM} could not be fetched."
    )
    expect(warning).to_contain_text("Reload the room to see its current state.")
    expect(warning).to_have_count(1)  # reported once
    expect(alice.locator("#messages li.notice")).to_have_count(0)  # not "caught up"
    expect(alice.locator("#messages")).not_to_contain_text("lost")
    reload = warning.get_by_role("button", name=f"Reload {ROOM}")
    expect(reload).to_be_visible()
    _no_horizontal_scroll(alice)
    alice.screenshot(path=str(screenshots / f"demo-expired-{size}.png"), full_page=True)

    reload.click()
    expect(alice.locator("#messages li").first).to_have_text(
        f"Reloaded {ROOM}: no messages are kept in its history"
    )
    expect(warning).to_have_count(0)
    bob.send("after the reload")
    expect(_last(alice)).to_have_text("after the reload")
    assert _lines(alice) == [
        f"Reloaded {ROOM}: no messages are kept in its history",
        "bob after the reload",
    ]
    alice.context.close()
