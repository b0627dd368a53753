"""The operator console in real Chromium against the real product (embedded mode, so SQLite: the
console's queries run on it too): a superuser signs in on /admin/, filters the conversations, opens a
transcript with its turn details and where the visitor came from, sees a chat sign-up's UTM tags among
the leads, downloads the leads CSV and sees the funnel drawn by Chart.js."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

from playwright.sync_api import Browser, expect

from backend.core.config import ROOT_DIR
from browser.chat_page import PASSWORD, ask, csrf_headers, open_page, outbox_code
from browser.live_server import LiveServer


def unexpected(errors: list[str]) -> list[str]:
    """Page errors other than the HTTP refusals the test provokes (401 before sign-in, 403 for a visitor)."""
    return [e for e in errors if "Failed to load resource" not in e]


def make_superuser(server: LiveServer, email: str) -> None:
    with sqlite3.connect(server.var_dir / "leadinc.db") as db:
        assert db.execute("UPDATE users SET is_superuser = 1 WHERE email = ?", (email,)).rowcount == 1


def test_an_operator_filters_reads_a_transcript_exports_leads_and_sees_the_funnel(
    browser: Browser, server: LiveServer, artifacts: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    word = f"Кофейня{tag}"
    operator, lead = f"operator-{tag}@example.com", f"lead-{tag}@example.com"
    chat_lead = f"chat-lead-{tag}@example.com"

    # A guest who came from an ad asks something with a word no other conversation has; a lead registers.
    visitor, visitor_errors = open_page(
        browser, server.url, f"/?utm_source=vk&utm_campaign=guest-{tag}", referer="https://vk.com/feed"
    )
    ask(visitor, f"Сколько стоит подключение для «{word}»?")
    for email in (operator, lead):
        created = visitor.request.post(
            "/auth/register", data={"email": email, "password": PASSWORD}, headers=csrf_headers(visitor)
        )
        assert created.status == 201, created.text()
    visitor.context.close()
    assert not unexpected(visitor_errors), visitor_errors
    make_superuser(server, operator)

    # Another visitor comes from a search ad and registers in the chat.
    landing = f"/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring-{tag}"
    signup, signup_errors = open_page(browser, server.url, landing)
    ask(signup, "хочу зарегистрироваться")
    ask(signup, chat_lead)
    ask(signup, outbox_code(server.var_dir, chat_lead))
    expect(ask(signup, "Казань, натяжные потолки")).to_have_attribute("data-action", "registered")
    signup.context.close()
    assert not unexpected(signup_errors), signup_errors

    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 860}, locale="ru-RU", accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.goto("/admin/")

    # A visitor account is refused; the superuser gets in.
    expect(page.get_by_role("heading", name="Вход для администратора")).to_be_visible()
    page.get_by_label("E-mail").fill(lead)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("#signin-error")).to_contain_text("не администратор")
    page.get_by_label("E-mail").fill(operator)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("#console")).to_be_visible()

    # Filters: guests whose messages mention the word; exactly that conversation.
    page.get_by_label("Поиск по тексту").fill(word.lower())
    page.get_by_label("Кто").select_option("false")
    page.get_by_role("button", name="Показать").click()
    expect(page.locator("#conversations-total")).to_have_text("Найдено диалогов: 1")
    rows = page.locator("#conversations tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("гость")
    page.get_by_label("Кто").select_option("true")  # the same search among accounts: none
    page.get_by_role("button", name="Показать").click()
    expect(page.locator("#conversations-total")).to_have_text("Найдено диалогов: 0")
    page.get_by_label("Кто").select_option("false")
    page.get_by_role("button", name="Показать").click()

    rows.first.click()
    transcript = page.locator("#transcript")
    expect(transcript.locator(".turn--user")).to_contain_text(word)
    answer = transcript.locator(".turn--assistant").first
    expect(answer.locator(".turn__text")).not_to_be_empty()
    expect(answer.locator("dt", has_text="Сценарий")).to_be_visible()
    expect(answer.locator("dt", has_text="Провайдер")).to_be_visible()
    expect(answer.locator("dt", has_text="Задержка")).to_be_visible()
    expect(transcript.locator(".visit")).to_contain_text(f"источник: vk · кампания: guest-{tag}")
    expect(transcript.locator(".visit")).to_contain_text("переход с: https://vk.com/feed")
    page.screenshot(path=artifacts / "console.png")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":  # as for docs/chat.png: a test run leaves docs alone
        shutil.copy(artifacts / "console.png", ROOT_DIR / "docs" / "console.png")

    # Leads: the registered visitors are listed (operators are not), the chat sign-up with its ad; the
    # CSV downloads with them.
    page.get_by_role("tab", name="Лиды").click()
    expect(page.locator("#leads tbody")).to_contain_text(lead)
    expect(page.locator("#leads tbody")).not_to_contain_text(operator)
    signed_up = page.locator("#leads tbody tr", has_text=chat_lead)
    expect(signed_up).to_contain_text("yandex / cpc")
    expect(signed_up).to_contain_text(f"spring-{tag}")
    expect(signed_up).to_contain_text(landing)
    page.screenshot(path=artifacts / "console-leads.png")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Скачать CSV").click()
    path = download_info.value.path()
    with open(path, newline="", encoding="utf-8") as handle:
        rows = {row["email"]: row for row in csv.DictReader(handle)}
    assert lead in rows and chat_lead in rows and operator not in rows
    assert rows[chat_lead]["utm_campaign"] == f"spring-{tag}" and rows[chat_lead]["landing_page"] == landing

    # Funnel: Chart.js (vendored, nothing from a CDN) draws the per-day bars and the scenario mix.
    page.get_by_role("tab", name="Воронка").click()
    expect(page.locator("#funnel-chart")).to_be_visible()
    expect(page.locator("#fallback-rate")).to_contain_text("Ответов ассистента")
    drawn = page.evaluate(
        """() => {
            const chart = Chart.getChart("funnel-chart");
            const mix = Chart.getChart("scenario-chart");
            return chart && mix ? {
                series: chart.data.datasets.map((d) => d.label),
                visitors: chart.data.datasets[0].data.reduce((a, b) => a + b, 0),
                scenarios: mix.data.labels.length,
                width: chart.width,
            } : null;
        }"""
    )
    assert drawn is not None, "no chart was drawn"
    assert drawn["series"] == ["Посетители", "Этап 1", "Этап 2", "Регистрация"]
    assert drawn["visitors"] >= 1 and drawn["scenarios"] >= 1 and drawn["width"] > 100
    page.screenshot(path=artifacts / "console-funnel.png")
    context.close()
    assert not unexpected(errors), errors
