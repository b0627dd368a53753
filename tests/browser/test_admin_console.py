"""The operator console in real Chromium against the real product (embedded mode, so SQLite: the
console's queries run on it too): a superuser signs in on /admin/, filters the conversations, opens a
transcript with its turn details, downloads the leads CSV and sees the funnel drawn by Chart.js."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

from playwright.sync_api import Browser, expect

from backend.core.config import ROOT_DIR
from browser.chat_page import PASSWORD, ask, csrf_headers, open_page
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

    # A guest asks something with a word no other conversation has; a lead registers.
    visitor, visitor_errors = open_page(browser, server.url)
    ask(visitor, f"Сколько стоит подключение для «{word}»?")
    for email in (operator, lead):
        created = visitor.request.post(
            "/auth/register", data={"email": email, "password": PASSWORD}, headers=csrf_headers(visitor)
        )
        assert created.status == 201, created.text()
    visitor.context.close()
    assert not unexpected(visitor_errors), visitor_errors
    make_superuser(server, operator)

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
    page.screenshot(path=artifacts / "console.png")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":  # as for docs/chat.png: a test run leaves docs alone
        shutil.copy(artifacts / "console.png", ROOT_DIR / "docs" / "console.png")

    # Leads: the registered visitor is listed (operators are not); the CSV downloads with it.
    page.get_by_role("tab", name="Лиды").click()
    expect(page.locator("#leads tbody")).to_contain_text(lead)
    expect(page.locator("#leads tbody")).not_to_contain_text(operator)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Скачать CSV").click()
    path = download_info.value.path()
    with open(path, newline="", encoding="utf-8") as handle:
        emails = [row["email"] for row in csv.DictReader(handle)]
    assert lead in emails and operator not in emails

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
