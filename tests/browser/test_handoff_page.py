"""Handoff in real Chromium: a visitor asks for a person, a manager takes the conversation and replies
through the admin API, and the reply appears on the open chat page without a reload within 2 s."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from browser.chat_page import ask, bot_messages
from browser.live_server import LiveServer

TOKEN = {"X-Admin-Token": "browser-test-admin-0123456789abcdef"}


def test_a_manager_reply_reaches_the_open_page(page: Page, server: LiveServer, artifacts: Path) -> None:
    marker = uuid.uuid4().hex[:8]
    reply = ask(page, f"Позовите менеджера, заказ {marker}")
    expect(reply).to_have_attribute("data-action", "handoff")
    with httpx.Client(base_url=server.url, headers=TOKEN, timeout=10) as admin:
        listed = admin.get("/admin/conversations", params={"handoff": "waiting", "q": marker}).json()
        [conversation] = listed["conversations"]
        assert admin.post(f"/admin/conversations/{conversation['id']}/take").status_code == 200
        posted = admin.post(
            f"/admin/conversations/{conversation['id']}/reply", json={"text": f"Менеджер Анна, {marker}"}
        )
        assert posted.status_code == 201, posted.text
        sent_at = time.monotonic()
    manager = bot_messages(page).filter(has_text=f"Менеджер Анна, {marker}")
    expect(manager).to_have_count(1, timeout=2000)
    assert time.monotonic() - sent_at < 2.5
    expect(manager).to_have_attribute("data-action", "manager")
    page.screenshot(path=artifacts / "handoff-manager-reply.png")
