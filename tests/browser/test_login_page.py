"""Signing in from the chat page in real Chromium: the «Войти» entry drives the chat's login path
(e-mail, then the code from the development outbox) against the real product."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from browser.chat_page import PASSWORD, ask, bot_messages, csrf_headers, outbox_code
from browser.live_server import LiveServer


def test_a_returning_visitor_signs_in_from_the_page_by_code(page: Page, server: LiveServer, artifacts: Path) -> None:
    email = f"back-{uuid.uuid4().hex[:8]}@example.com"
    created = page.request.post(
        "/auth/register", data={"email": email, "password": PASSWORD}, headers=csrf_headers(page)
    )
    assert created.status == 201, created.text()  # an account from an earlier visit; this browser is a guest
    status = page.locator("#account-status")
    expect(status).to_have_text("Гость")
    ask(page, "Как вернуть деньги, если сервис не подошёл?")  # a guest question, to move to the account

    login = page.get_by_role("button", name="Войти")
    expect(login).to_be_visible()
    before = bot_messages(page).count()
    login.click()
    asked = bot_messages(page).nth(before)
    expect(asked).to_have_attribute("aria-busy", "false")
    expect(asked).to_have_attribute("data-action", "ask_contact")
    expect(page.locator("#log .msg--me").last).to_contain_text("войти")

    expect(ask(page, email)).to_have_attribute("data-action", "ask_code")
    reply = ask(page, outbox_code(server.var_dir, email))
    expect(reply).to_have_attribute("data-action", "logged_in")
    expect(reply).to_contain_text("Пробный доступ открыт до")
    expect(status).to_have_text(f"Вы вошли: {email}")
    expect(login).to_be_hidden()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    page.screenshot(path=artifacts / "13-signed-in-by-code.png")

    page.reload()  # the sign-in is the server's cookie
    expect(status).to_have_text(f"Вы вошли: {email}")
    me = page.request.get("/auth/users/me").json()
    assert me["email"] == email and me["has_access"] is True
