"""The demo page (Relay) in headless Chromium, served by the local gateway, at desktop and
phone sizes. Screenshots of every state go to build/screenshots/."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import free_port
from tests.integration.conftest import GatewayProcess

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Browser, Page

TIMEOUT_MS = 15_000
SIZES = {"desktop": {"width": 1100, "height": 800}, "phone": {"width": 390, "height": 844}}
ID_RULE = "1-128 characters of A-Z a-z 0-9 . _ : @ | + = ~ -"


def _page(browser: Browser, size: str) -> Page:
    page = browser.new_context(viewport=SIZES[size]).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(TIMEOUT_MS)
    return page


def _open(
    browser: Browser,
    gw: GatewayProcess,
    user: str,
    tenant: str,
    room: str | None = None,
    size: str = "desktop",
) -> Page:
    page = _page(browser, size)
    query = f"?user={user}&tenant={tenant}" + (f"&room={room}" if room else "")
    page.goto(f"{gw.base_url}/{query}")
    expect(page.locator("#status")).to_have_attribute("data-state", "open")
    if room:
        expect(page.locator("#chat-room")).to_contain_text(room)
    return page


def _no_horizontal_scroll(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _connections(gw: GatewayProcess) -> int:
    return int(gw.get_json("/_dev/health")["connections"])


def _publish(gw: GatewayProcess, tenant: str, event: str, data: Any) -> None:
    payload = {"tenantId": tenant, "target": {"tenant": True}, "event": event, "data": data}
    status, body = gw.request("POST", f"/{gw.stage}/_dev/publish", json.dumps(payload).encode())
    assert status == 200, body


# -- before sign-in ------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_before_sign_in_only_the_sign_in_card_shows(
    browser: Browser, gateway: GatewayProcess, screenshots: Path, size: str
) -> None:
    page = _page(browser, size)
    page.goto(f"{gateway.base_url}/")
    expect(page.locator("h1")).to_have_text("Relay")
    expect(page.locator(".tagline")).to_be_visible()
    expect(page.locator("#signin")).to_be_visible()
    for hidden in ("#app", "#identity", "#offline", "#send", "#tile-title"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#status-text")).to_have_text("Not connected")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    with urllib.request.urlopen(f"{gateway.base_url}{icon}", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("image/svg")
    _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / f"demo-signin-{size}.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("user", "tenant", "invalid"),
    [("alice", "bad tenant!", "#tenant"), ("u" * 200, "acme", "#user")],
    ids=["bad-tenant", "long-user"],
)
def test_a_refused_id_is_explained_and_nothing_connects(
    browser: Browser,
    gateway: GatewayProcess,
    screenshots: Path,
    size: str,
    user: str,
    tenant: str,
    invalid: str,
) -> None:
    page = _page(browser, size)
    page.goto(f"{gateway.base_url}/")
    before = _connections(gateway)
    page.fill("#user", user)
    page.fill("#tenant", tenant)
    page.click("#signin-form button[type=submit]")
    error = page.locator("#signin-error")
    expect(error).to_contain_text("Cannot sign in")
    expect(error).to_contain_text("not allowed")
    expect(error).to_contain_text(ID_RULE)
    expect(page.locator(invalid)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#app")).to_be_hidden()
    expect(page.locator("#offline")).to_be_hidden()
    expect(page.locator("#status")).to_have_attribute("data-state", "closed")
    assert _connections(gateway) == before
    _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / f"demo-refused-id-{size}.png"), full_page=True)
    page.context.close()


# -- signed in -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_signed_in_without_a_room_the_page_says_what_to_do_and_signs_out(
    browser: Browser, gateway: GatewayProcess, screenshots: Path, size: str
) -> None:
    before = _connections(gateway)
    page = _open(browser, gateway, "erin", f"empty-{size}", size=size)
    expect(page.locator("#identity-user")).to_have_text("erin")
    expect(page.locator("#identity-tenant")).to_have_text(f"empty-{size}")
    expect(page.locator("#signout")).to_be_visible()
    expect(page.locator("#rooms-empty")).to_contain_text("No rooms yet")
    expect(page.locator("#presence-empty")).to_have_text("Join a room to see who is online.")
    expect(page.locator("#messages-empty")).to_have_text("Join a room, then say hello.")
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#send-hint")).to_contain_text("Join a room first")
    page.fill("#text", "anyone?")
    page.press("#text", "Enter")  # nothing to send it to: kept, and the hint says why
    expect(page.locator("#text")).to_have_value("anyone?")
    # The publish hint reaches this gateway (a random port here) and names the tenant.
    command = page.locator("#tile-command")
    assert gateway.stage == "dev"  # the default: only the port needs saying
    expect(command).to_contain_text(f"PORT={gateway.port} make -s publish TENANT=")
    expect(command).to_contain_text(f"TENANT=empty-{size}")
    # A command to copy wraps between words, never inside one.
    wrap = command.evaluate(
        "e => [getComputedStyle(e).wordBreak, getComputedStyle(e).overflowWrap]"
    )
    assert wrap == ["normal", "break-word"]
    expect(page.locator("#tile-event")).to_have_text("Waiting for an event")
    assert _connections(gateway) == before + 1
    _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / f"demo-empty-{size}.png"), full_page=True)

    # One click from the empty state to a room.
    page.click("#join-lobby")
    expect(page.locator("#chat-room")).to_contain_text("lobby")
    expect(page.locator("#presence")).to_contain_text("erin (you)")
    expect(page.locator("#messages-empty")).to_have_text("No messages in lobby yet. Say hello!")
    expect(page.locator("#send")).to_be_enabled()

    page.click("#signout")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    expect(page.locator("#identity")).to_be_hidden()
    expect(page.locator("#status")).to_have_attribute("data-state", "closed")
    assert "user=" not in page.url
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while _connections(gateway) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _connections(gateway) == before  # the socket is closed, not just hidden
    page.context.close()


def test_chat_presence_and_own_messages_across_tabs_and_sizes(
    browser: Browser, gateway: GatewayProcess, screenshots: Path
) -> None:
    alice = _open(browser, gateway, "alice", "acme", "lobby")
    expect(alice.locator("#presence")).to_contain_text("alice (you)")
    bob = _open(browser, gateway, "bob", "acme", "lobby")
    expect(alice.locator("#presence")).to_contain_text("bob")
    expect(bob.locator("#presence")).to_contain_text("alice")
    alice_phone = _open(browser, gateway, "alice", "acme", "lobby", size="phone")

    alice.fill("#text", "hello from alice")
    alice.press("#text", "Enter")
    expect(alice.locator("#messages li.mine").last).to_contain_text("hello from alice")
    expect(alice.locator("#text")).to_have_value("")
    expect(bob.locator("#messages li.other .from").last).to_have_text("alice")
    # The same user in another tab: her own message, not someone else's.
    mine = alice_phone.locator("#messages li").filter(has_text="hello from alice")
    expect(mine).to_have_class("mine")
    expect(mine.locator(".from")).to_have_text("alice (you)")
    bob.screenshot(path=str(screenshots / "demo-chat-desktop.png"), full_page=True)

    _publish(gateway, "acme", "metric", {"value": 42})
    for page in (alice, alice_phone):
        expect(page.locator("#tile-event")).to_have_text("metric")
        expect(page.locator("#tile-data")).to_contain_text("42")
    # On a phone the live tile is near the top, not below the whole conversation.
    tile = alice_phone.locator(".tile").bounding_box()
    assert tile is not None and tile["y"] < SIZES["phone"]["height"]
    _no_horizontal_scroll(alice_phone)
    alice_phone.screenshot(path=str(screenshots / "demo-chat-phone.png"), full_page=True)

    bob.context.close()
    expect(alice.locator("#presence")).not_to_contain_text("bob")
    expect(alice.locator("#messages")).to_contain_text("bob left")
    alice.screenshot(path=str(screenshots / "demo-bob-left-desktop.png"), full_page=True)
    alice.context.close()
    alice_phone.context.close()


# -- offline -------------------------------------------------------------------------------


@pytest.fixture
def restartable() -> Iterator[dict[str, GatewayProcess]]:
    """A gateway on a fixed port that a test may stop and start again."""
    port = free_port()
    holder = {"gw": GatewayProcess({"PORT": str(port)})}
    holder["gw"].spawn()
    holder["gw"].wait_ready()
    try:
        yield holder
    finally:
        assert holder["gw"].stop() == 0, holder["gw"].output()


@pytest.mark.parametrize("size", SIZES)
def test_offline_the_page_says_so_greys_presence_refuses_sends_and_retries_now(
    browser: Browser, restartable: dict[str, GatewayProcess], screenshots: Path, size: str
) -> None:
    gw = restartable["gw"]
    page = _open(browser, gw, "alice", "acme", "lobby", size=size)
    other = _open(browser, gw, "bob", "acme", "lobby")
    expect(page.locator("#presence")).to_contain_text("bob")
    expect(page.locator("#presence")).not_to_have_attribute("data-offline", "true")

    assert gw.stop() == 0  # the gateway goes away
    banner = page.locator("#offline")
    expect(banner).to_be_visible()
    expect(page.locator("#offline-text")).to_contain_text("Connection lost")
    expect(page.locator("#retry")).to_have_text("Retry now")
    expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#presence")).to_have_attribute("data-offline", "true")
    expect(page.locator("#presence-stale")).to_be_visible()
    expect(page.locator("#presence")).to_contain_text("bob")  # last known, greyed
    # Greyed (--muted); the list is re-rendered on every attempt, so the check retries.
    expect(page.locator("#presence li").first).to_have_css("color", "rgb(91, 100, 112)")
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#send-hint")).to_contain_text("Offline")
    page.fill("#text", "typed while offline")
    page.press("#text", "Enter")
    expect(page.locator("#text")).to_have_value("typed while offline")  # kept, not lost
    # The token request fails while the gateway is away: the banner says so.
    expect(page.locator("#offline-text")).to_contain_text("does not answer")
    expect(page.locator("#offline-text")).not_to_contain_text("attempt 1)")  # retrying on
    page.screenshot(path=str(screenshots / f"demo-offline-{size}.png"), full_page=True)

    page.click("#retry")  # tries at once, from the first attempt again
    expect(page.locator("#offline-text")).to_contain_text("attempt 1)")

    restartable["gw"] = gw = GatewayProcess(dict(gw.env))  # same port
    gw.spawn()
    gw.wait_ready()
    page.click("#retry")
    expect(page.locator("#status")).to_have_attribute("data-state", "open")
    expect(banner).to_be_hidden()
    expect(page.locator("#presence")).not_to_have_attribute("data-offline", "true")
    expect(page.locator("#presence")).to_contain_text("alice (you)")  # rejoined lobby
    # Nothing was sent while it was away (the restarted gateway has no history either).
    expect(page.locator("#messages li.notice")).to_have_text("Caught up: no missed messages")
    expect(page.locator("#send")).to_be_enabled()
    page.press("#text", "Enter")
    expect(page.locator("#messages li.mine").last).to_contain_text("typed while offline")
    page.screenshot(path=str(screenshots / f"demo-back-online-{size}.png"), full_page=True)
    page.context.close()
    other.context.close()
