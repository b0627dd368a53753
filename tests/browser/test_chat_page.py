"""The chat page in real Chromium against the real product: FAQ, the funnel, analytics, accessibility."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from backend.core.config import ROOT_DIR
from browser.chat_page import (
    ask,
    bot_messages,
    message_box,
    open_page,
    outbox_code,
    sign_in_with_password,
    watch_typing,
)
from browser.live_server import WHITELISTED, LiveServer


def test_faq_answer_streams_and_cites_its_source(page: Page, artifacts: Path) -> None:
    watch_typing(page)
    reply = ask(page, "Как вернуть деньги, если сервис не подошёл?")

    expect(page.locator("#log .msg--me").last).to_contain_text("Как вернуть деньги")
    expect(reply.locator(".msg__text")).to_contain_text("вернём")
    expect(reply).to_have_attribute("data-scenario", "FAQ")
    sources = reply.locator(".sources")
    expect(sources).to_contain_text("Источники:")
    expect(sources.get_by_role("listitem")).to_have_text(["Как вернуть деньги"])
    typing = page.evaluate("window.__typing")
    assert typing["seen"], "the reply never showed the typing state"
    assert typing["updates"] >= 2, f"the reply was not streamed in parts: {typing}"
    expect(page.locator("#notice")).to_be_hidden()
    page.screenshot(path=artifacts / "01-faq.png")


def test_enter_sends_shift_enter_breaks_line_and_focus_returns(page: Page) -> None:
    box = message_box(page)
    expect(box).to_be_focused()
    box.fill("Какие есть тарифы?")
    box.press("Shift+Enter")
    expect(box).to_have_value("Какие есть тарифы?\n")
    expect(page.locator("#log .msg--me")).to_have_count(0)
    box.press("Enter")
    expect(page.locator("#log .msg--me")).to_have_count(1)
    expect(box).to_have_value("")
    expect(bot_messages(page).last).to_have_attribute("aria-busy", "false")
    expect(box).to_be_focused()
    # labels and names that assistive technology relies on
    expect(page.get_by_role("button", name="Отправить", exact=True)).to_be_enabled()
    expect(page.get_by_role("checkbox", name="Ответ голосом")).not_to_be_checked()
    expect(page.get_by_role("button", name="Записать голосовое сообщение")).to_be_visible()
    expect(page.get_by_role("button", name="Отправить аудиофайл")).to_be_visible()
    expect(page.get_by_role("log", name="Переписка")).to_be_visible()


def test_enter_pressed_while_a_reply_is_on_its_way_sends_after_it(page: Page) -> None:
    # Both Enters in one task of the page, so the second surely comes while the first turn is open
    # (as when a visitor presses Enter the moment a reply shows, before its stream has closed).
    page.evaluate(
        """() => {
          const box = document.getElementById("message");
          const enter = () => box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
          box.value = "Какие есть тарифы?";
          enter();
          box.value = "Как вернуть деньги?";
          enter();
        }"""
    )
    expect(page.locator("#log .msg--me")).to_have_text(
        [re.compile("Какие есть тарифы"), re.compile("Как вернуть деньги")]
    )
    expect(bot_messages(page)).to_have_count(3)  # the welcome and one reply to each
    expect(bot_messages(page).last).to_have_attribute("aria-busy", "false")
    expect(bot_messages(page).last.locator(".msg__text")).to_contain_text("верн")
    expect(message_box(page)).to_have_value("")


def test_quick_reply_chip_sends_its_question(page: Page) -> None:
    page.get_by_role("group", name="Быстрые вопросы").get_by_role("button", name="Какие есть тарифы?").click()
    expect(page.locator("#log .msg--me")).to_have_text(["Вы: Какие есть тарифы?"])
    reply = bot_messages(page).nth(1)
    expect(reply).to_have_attribute("aria-busy", "false")
    expect(reply.locator(".sources li")).not_to_have_count(0)


def test_registration_funnel_ends_logged_in(page: Page, server: LiveServer, artifacts: Path) -> None:
    email = f"lead-{uuid.uuid4().hex[:8]}@example.com"
    stages = page.get_by_role("navigation", name="Этапы регистрации")
    expect(stages).to_be_hidden()

    ask(page, "хочу зарегистрироваться")
    expect(stages).to_be_visible()
    expect(stages.locator("[aria-current=step]")).to_contain_text("E-mail и код")

    reply = ask(page, email)
    expect(reply).to_have_attribute("data-action", "ask_code")
    page.screenshot(path=artifacts / "02-registration-code.png")

    reply = ask(page, outbox_code(server.var_dir, email))
    expect(reply).to_have_attribute("data-action", "ask_city")
    expect(stages.locator("[aria-current=step]")).to_contain_text("Город и ниша")
    expect(stages.locator("li.done")).to_have_count(1)
    expect(page.locator("#account-status")).to_have_text("Гость")

    reply = ask(page, "Казань, натяжные потолки")
    expect(reply).to_have_attribute("data-action", "registered")
    expect(stages.locator("li.done")).to_have_count(3)
    expect(stages.locator("[aria-current=step]")).to_have_count(0)
    expect(page.locator("#account-status")).to_have_text(f"Вы вошли: {email}")
    logout = page.get_by_role("button", name="Выйти")
    expect(logout).to_be_visible()
    page.screenshot(path=artifacts / "03-registered.png")

    # the login survives a reload: it is the server's cookie, not page state
    page.reload()
    expect(page.locator("#account-status")).to_have_text(f"Вы вошли: {email}")
    page.get_by_role("button", name="Выйти").click()
    expect(page.locator("#account-status")).to_have_text("Гость")
    expect(page.get_by_role("button", name="Выйти")).to_be_hidden()
    expect(bot_messages(page).last).to_contain_text("Вы вышли из аккаунта")


def test_analytics_table_and_niche_chips(page: Page, artifacts: Path) -> None:
    sign_in_with_password(page, WHITELISTED)

    reply = ask(page, "что по нише натяжные потолки?")
    dashboard = reply.locator("figure.dashboard")
    expect(dashboard.locator("figcaption")).to_contain_text("Натяжные потолки")
    table = dashboard.get_by_role("table", name="Аналитика: Натяжные потолки")
    expect(table.locator("thead th")).to_have_text(["Показатель", "Значение"])
    expect(table.locator("tbody tr")).not_to_have_count(0)
    expect(table.get_by_role("rowheader", name="Средний чек")).to_be_visible()
    page.screenshot(path=artifacts / "04-analytics.png")

    reply = ask(page, "аналитика по ремонту")
    chips = reply.get_by_role("group", name="Выберите нишу").get_by_role("button")
    expect(chips.first).to_be_visible()
    choice = chips.nth(1)
    niche = choice.inner_text()
    before = bot_messages(page).count()
    choice.click()
    picked = bot_messages(page).nth(before)
    expect(picked).to_have_attribute("aria-busy", "false")
    expect(picked.locator("figure.dashboard figcaption")).to_contain_text(niche)
    expect(chips.first).to_be_disabled()  # a used shortlist cannot be sent twice
    page.screenshot(path=artifacts / "05-niche-chips.png")


def test_conversation_screenshot(page: Page, artifacts: Path) -> None:
    """A real conversation for docs/chat.png (copied there when UPDATE_DOCS_SCREENSHOT=1)."""
    page.set_viewport_size({"width": 900, "height": 1000})
    sign_in_with_password(page, WHITELISTED)
    ask(page, "Сколько стоит подключение?")
    reply = ask(page, "Покажи аналитику по нише доставка еды")
    expect(reply.locator("figure.dashboard figcaption")).to_contain_text("Доставка еды")
    page.locator("#log").evaluate("log => { log.style.scrollBehavior = 'auto'; log.scrollTop = log.scrollHeight; }")
    shot = artifacts / "chat.png"
    page.screenshot(path=shot)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        (ROOT_DIR / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, ROOT_DIR / "docs" / "chat.png")


def test_phone_screen_keeps_the_composer_reachable(browser: Browser, server: LiveServer, artifacts: Path) -> None:
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
    page, errors = open_page(browser, server.url, **phone)
    try:
        for question in ("Какие есть тарифы?", "Как вернуть деньги?", "Есть интеграция с amoCRM?"):
            ask(page, question)
        for control in (message_box(page), page.get_by_role("button", name="Отправить", exact=True)):
            expect(control).to_be_visible()
            expect(control).to_be_in_viewport()
        for name in ("Записать голосовое сообщение", "Отправить аудиофайл"):
            expect(page.get_by_role("button", name=name)).to_be_in_viewport()
        expect(page.get_by_role("checkbox", name="Ответ голосом")).to_be_in_viewport()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
        expect(bot_messages(page).last).to_contain_text(re.compile("amoCRM", re.IGNORECASE))
        message_box(page).tap()
        expect(message_box(page)).to_be_focused()
        page.screenshot(path=artifacts / "06-phone.png")
        assert not [e for e in errors if "Failed to load resource" not in e], errors
    finally:
        page.context.close()


def test_a_refused_tag_does_not_stop_the_sign_up(browser: Browser, server: LiveServer) -> None:
    """A tag the server refuses (a control character) only drops the tags: the session still starts,
    and the page's /auth/session still signs in the visitor the funnel registered."""
    email = f"bad-tag-{uuid.uuid4().hex[:8]}@example.com"
    page, errors = open_page(browser, server.url, "/?utm_source=%01ya&utm_campaign=spring")
    try:
        ask(page, "хочу зарегистрироваться")
        ask(page, email)
        ask(page, outbox_code(server.var_dir, email))
        expect(ask(page, "Казань, натяжные потолки")).to_have_attribute("data-action", "registered")
        expect(page.locator("#account-status")).to_have_text(f"Вы вошли: {email}")
        assert not [e for e in errors if "Failed to load resource" not in e], errors  # the 422s the tag provokes
    finally:
        page.context.close()
