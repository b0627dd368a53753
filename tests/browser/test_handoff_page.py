"""Handoff in real Chromium: a visitor asks for a person, a manager takes the conversation and replies
(through the admin API, then from the console page), and the reply appears on the open chat page
without a reload within about 2 s."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from browser.chat_page import PASSWORD, ask, bot_messages, csrf_headers
from browser.live_server import LiveServer
from browser.test_admin_console import make_superuser

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

    # After a reload the conversation is still there, the manager's reply included, and the page keeps
    # listening: a second reply arrives without another reload.
    page.reload()
    expect(page.locator(".msg--me").filter(has_text=f"Позовите менеджера, заказ {marker}")).to_have_count(1)
    expect(bot_messages(page).filter(has_text=f"Менеджер Анна, {marker}")).to_have_count(1)
    with httpx.Client(base_url=server.url, headers=TOKEN, timeout=10) as admin:
        again = admin.post(f"/admin/conversations/{conversation['id']}/reply", json={"text": f"И ещё, {marker}"})
        assert again.status_code == 201, again.text
    expect(bot_messages(page).filter(has_text=f"И ещё, {marker}")).to_have_count(1, timeout=2500)


def test_a_manager_takes_and_answers_from_the_console(
    browser: Browser, page: Page, server: LiveServer, artifacts: Path
) -> None:
    marker = uuid.uuid4().hex[:8]
    manager_email = f"manager-{marker}@example.com"
    reply = ask(page, f"Хочу поговорить с человеком про счёт {marker}")
    expect(reply).to_have_attribute("data-action", "handoff")
    created = page.request.post(
        "/auth/register", data={"email": manager_email, "password": PASSWORD}, headers=csrf_headers(page)
    )
    assert created.status == 201, created.text()
    make_superuser(server, manager_email)

    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860}, locale="ru-RU")
    console = context.new_page()
    console.goto("/admin/")
    console.get_by_label("E-mail").fill(manager_email)
    console.get_by_label("Пароль").fill(PASSWORD)
    console.get_by_role("button", name="Войти").click()
    expect(console.locator("#console")).to_be_visible()
    console.get_by_label("Поиск по тексту").fill(marker)
    console.get_by_label("Менеджер").select_option("waiting")
    console.get_by_role("button", name="Показать").click()
    rows = console.locator("#conversations tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ждёт человека")
    rows.first.click()
    transcript = console.locator("#transcript")
    transcript.get_by_role("button", name="Взять диалог").click()
    expect(transcript).to_contain_text("Кто отвечает: менеджер")
    transcript.get_by_label("Ответ посетителю").fill(f"Это Анна из команды, {marker}")
    transcript.get_by_role("button", name="Ответить").click()
    sent_at = time.monotonic()
    expect(transcript.locator(".turn", has_text=f"Это Анна из команды, {marker}")).to_contain_text("Менеджер")
    expect(bot_messages(page).filter(has_text=f"Это Анна из команды, {marker}")).to_have_count(1, timeout=2500)
    assert time.monotonic() - sent_at < 3
    console.screenshot(path=artifacts / "handoff-console.png")
    transcript.get_by_role("button", name="Вернуть ассистенту").click()
    expect(transcript).to_contain_text("Кто отвечает: ассистент")
    context.close()
