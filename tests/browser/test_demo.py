"""Two users in two browser contexts on the demo page served by the local gateway."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from playwright.sync_api import expect

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page

    from tests.integration.conftest import GatewayProcess

TIMEOUT_MS = 15_000


def _open(browser: Browser, gateway: GatewayProcess, user: str, room: str) -> Page:
    page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{gateway.base_url}/?user={user}&tenant=acme&room={room}")
    expect(page.locator("#status")).to_have_attribute("data-state", "open")
    expect(page.locator("#chat-room")).to_contain_text(room)
    return page


def _connection_of(gateway: GatewayProcess, tenant: str, user: str) -> str:
    """The user's live connection id, read from the emulated table (GSI1)."""
    out = gateway.aws("dynamodb").query(
        TableName=gateway.health["tableName"],
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USER#{tenant}#{user}"}},
    )
    (item,) = out["Items"]
    return str(item["connectionId"]["S"])


def test_chat_presence_and_reconnect_between_two_browsers(
    browser: Browser, gateway: GatewayProcess, screenshots: Path
) -> None:
    alice = _open(browser, gateway, "alice", "lobby")
    expect(alice.locator("#presence")).to_contain_text("alice (you)")

    bob = _open(browser, gateway, "bob", "lobby")
    # presence on join: alice's list gains bob; bob's ack lists both
    expect(alice.locator("#presence")).to_contain_text("bob")
    expect(bob.locator("#presence")).to_contain_text("alice")

    # a message typed in one appears in the other
    alice.fill("#text", "hello from alice")
    alice.press("#text", "Enter")
    expect(bob.locator("#messages")).to_contain_text("hello from alice")
    expect(bob.locator("#messages li.other .from").last).to_have_text("alice")
    bob.screenshot(path=str(screenshots / "demo-bob-received.png"), full_page=True)

    # the tile follows server-side publish
    status, body = gateway.request(
        "POST",
        f"/{gateway.stage}/_dev/publish",
        json.dumps(
            {
                "tenantId": "acme",
                "target": {"tenant": True},
                "event": "metric",
                "data": {"value": 42},
            }
        ).encode(),
    )
    assert status == 200, body
    expect(alice.locator("#tile-event")).to_have_text("metric")
    expect(alice.locator("#tile-data")).to_contain_text("42")

    # a gateway-side close is followed by an automatic reconnect that rejoins the room
    connection_id = _connection_of(gateway, "acme", "alice")
    gateway.management().delete_connection(ConnectionId=connection_id)
    expect(alice.locator("#status")).to_have_attribute("data-state", "open")
    new_id = _wait_new_connection(gateway, connection_id)
    assert new_id != connection_id
    bob.fill("#text", "after the reconnect")
    bob.press("#text", "Enter")
    expect(alice.locator("#messages")).to_contain_text("after the reconnect")
    alice.screenshot(path=str(screenshots / "demo-alice-after-reconnect.png"), full_page=True)

    # presence on close: bob closes his browser, alice sees him leave
    bob.context.close()
    expect(alice.locator("#presence")).not_to_contain_text("bob")
    expect(alice.locator("#messages")).to_contain_text("bob left")
    alice.screenshot(path=str(screenshots / "demo-alice-bob-left.png"), full_page=True)

    # readable on a phone: one column, nothing wider than the screen
    alice.set_viewport_size({"width": 390, "height": 844})
    assert alice.evaluate("document.documentElement.scrollWidth") <= 390
    alice.screenshot(path=str(screenshots / "demo-phone.png"), full_page=True)
    alice.context.close()


def _wait_new_connection(gateway: GatewayProcess, old: str) -> str:
    """Poll (bounded) until alice's reconnect has registered a different connection."""
    import time

    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        try:
            current = _connection_of(gateway, "acme", "alice")
        except ValueError:  # zero or two items while the old one is being cleaned up
            current = old
        if current != old and _is_member(gateway, current, "lobby"):
            return current
        time.sleep(0.1)
    raise AssertionError("alice did not reconnect and rejoin lobby")


def _is_member(gateway: GatewayProcess, connection_id: str, room: str) -> bool:
    out = gateway.aws("dynamodb").get_item(
        TableName=gateway.health["tableName"],
        Key={"PK": {"S": f"ROOM#acme#{room}"}, "SK": {"S": f"CONN#{connection_id}"}},
    )
    return "Item" in out
