"""Voice on the chat page (file upload, the microphone, spoken replies) and polite errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from voice.speech_standin import SpeechStandIn

from browser.chat_page import ask, bot_messages, message_box, open_page, spoken_question
from browser.live_server import TRANSCRIPT, LiveServer


def wait_for_audio(page: Page, selector: str) -> None:
    """The player's file really loads (the browser decoded its metadata)."""
    page.wait_for_function(
        "sel => { const a = document.querySelector(sel); return a && a.readyState >= 1 && a.duration > 0; }",
        arg=selector,
        timeout=30_000,
    )


def test_audio_file_shows_transcript_reply_and_spoken_answer(
    page: Page, stt_standin: SpeechStandIn, tmp_path: Path, artifacts: Path
) -> None:
    clip = spoken_question(tmp_path, TRANSCRIPT, "ogg")
    calls = len(stt_standin.transcriptions)
    page.get_by_role("checkbox", name="Ответ голосом").check()
    page.locator("#audio-file").set_input_files(clip)

    mine = page.locator("#log .msg--me").last
    expect(mine).to_contain_text("question.ogg")
    expect(mine.locator(".transcript")).to_have_text(f"«{TRANSCRIPT}»", timeout=60_000)
    reply = bot_messages(page).last
    expect(reply).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(reply.locator(".msg__text")).to_contain_text("₽")
    expect(reply.locator(".sources li")).not_to_have_count(0)
    expect(reply.locator("audio")).to_have_attribute("src", re.compile(r"^/media/audio/.+\.mp3$"), timeout=60_000)
    wait_for_audio(page, "#log .msg--bot:last-child audio")
    assert stt_standin.transcriptions[calls]["filename"].endswith(".ogg")
    assert stt_standin.transcriptions[calls]["size"] == clip.stat().st_size
    expect(page.locator("#notice")).to_be_hidden()
    page.screenshot(path=artifacts / "07-voice-file.png")


def test_microphone_recording_is_sent_and_answered(page: Page, stt_standin: SpeechStandIn, artifacts: Path) -> None:
    record = page.get_by_role("button", name="Записать голосовое сообщение")
    record.click()
    stop = page.get_by_role("button", name="Остановить запись и отправить")
    expect(stop).to_have_attribute("aria-pressed", "true")
    expect(stop).to_contain_text("0:02")  # the synthetic microphone has recorded two seconds
    stop.click()
    expect(record).to_have_attribute("aria-pressed", "false")

    mine = page.locator("#log .msg--me").last
    expect(mine).to_contain_text("Голосовое сообщение")
    expect(mine.locator(".transcript")).to_have_text(f"«{TRANSCRIPT}»", timeout=60_000)
    reply = bot_messages(page).last
    expect(reply).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(reply.locator(".msg__text")).to_contain_text("₽")
    assert stt_standin.transcriptions[-1]["filename"].endswith(".webm")  # what MediaRecorder made
    page.screenshot(path=artifacts / "08-voice-recorded.png")


def test_text_question_with_spoken_reply(page: Page) -> None:
    page.get_by_text("Ответ голосом").click()  # the label toggles the checkbox
    expect(page.get_by_role("checkbox", name="Ответ голосом")).to_be_checked()
    reply = ask(page, "Как вернуть деньги?")
    expect(reply.locator("audio")).to_have_count(1, timeout=60_000)
    wait_for_audio(page, "#log .msg--bot:last-child audio")


def test_flood_limit_is_explained_with_the_wait(browser: Browser, flood_server: LiveServer, artifacts: Path) -> None:
    page, _ = open_page(browser, flood_server.url)
    try:
        ask(page, "Какие тарифы?")
        ask(page, "Как вернуть деньги?")
        box = message_box(page)
        box.fill("И ещё вопрос")
        box.press("Enter")
        notice = page.get_by_role("alert")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("Слишком много сообщений")
        expect(notice).to_have_text(re.compile(r"Подождите \d+ с"))
        expect(page.locator("#log .msg--me")).to_have_count(2)  # the rejected message is not shown as sent
        expect(box).to_have_value("И ещё вопрос")  # it is given back to resend later
        expect(page.get_by_role("button", name="Отправить", exact=True)).to_be_enabled()
        page.screenshot(path=artifacts / "09-flood-limit.png")
    finally:
        page.context.close()


def fake_error(status: int, code: str, detail: str, retry_after: int | None) -> object:
    def handler(route: Route) -> None:
        route.fulfill(
            status=status,
            content_type="application/json",
            body=json.dumps({"error_code": code, "detail": detail}),
            headers={"Retry-After": str(retry_after)} if retry_after else {},
        )

    return handler


DAILY = "Дневной лимит сообщений исчерпан. Продолжим через 43000 с — или зарегистрируйтесь, у пользователей лимит выше."


@pytest.mark.parametrize(
    ("status", "code", "detail", "retry_after", "shown"),
    [
        (503, "SERVICE_UNAVAILABLE", "", 5, "Сервис временно недоступен"),
        (503, "LLM_UNAVAILABLE", "Модель временно недоступна. Попробуйте через минуту.", None, "Модель временно"),
        (422, "VALIDATION_ERROR", "message: String should have at most 4000 characters", None, "от 1 до 4000 символов"),
        (500, "INTERNAL_ERROR", "Traceback (most recent call last)", None, "На сервере что-то пошло не так"),
        (429, "DAILY_LIMIT", DAILY, 43000, "Продолжим через 11 ч 57 мин — или зарегистрируйтесь"),
    ],
    ids=["503-bare", "503-with-detail", "422-technical-detail", "500-traceback", "429-daily-in-hours"],
)
def test_error_responses_are_polite(
    page: Page, status: int, code: str, detail: str, retry_after: int | None, shown: str
) -> None:
    page.route("**/ai/chat/stream", fake_error(status, code, detail, retry_after))
    box = message_box(page)
    box.fill("Какие тарифы?")
    box.press("Enter")
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text(shown)
    assert "Traceback" not in notice.inner_text() and "String should" not in notice.inner_text()
    expect(box).to_have_value("Какие тарифы?")
    expect(page.locator("#log .msg--bot[aria-busy=true]")).to_have_count(0)


def test_lost_connection_and_empty_message(page: Page) -> None:
    page.get_by_role("button", name="Отправить", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Введите сообщение.")
    page.route("**/ai/chat/stream", lambda route: route.abort("internetdisconnected"))
    ask_box = message_box(page)
    ask_box.fill("Какие тарифы?")
    ask_box.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Нет связи с сервером")


def test_unsupported_file_is_refused_politely(page: Page, tmp_path: Path) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("это не аудио", encoding="utf-8")
    page.locator("#audio-file").set_input_files(note)
    notice = page.get_by_role("alert")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(re.compile("формат", re.IGNORECASE))
    expect(bot_messages(page)).to_have_count(1)  # only the greeting: no reply is pending


def test_a_reset_event_replaces_the_text_already_shown(page: Page) -> None:
    """The server replaced what it had streamed (the model failed mid-answer, the funnel took over):
    the bubble drops the old text and ends with the final message's text."""
    reply = {
        "scenario": "REGISTRATION",
        "action": "ask_code",
        "reply": "Неверный код. Осталось 4 попытки.",
        "fields": {},
        "stage": 1,
        "sources": [],
        "dashboard": None,
        "audio": None,
    }
    events = [
        ("delta", {"text": "Какое красивое число! "}),
        ("delta", {"text": "Давайте поговорим о погоде."}),
        ("reset", {}),
        ("delta", {"text": "Неверный код. "}),
        ("delta", {"text": "Осталось 4 попытки."}),
        ("message", reply),
    ]
    body = "".join(f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n" for kind, data in events)
    page.route(
        "**/ai/chat/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body.encode("utf-8")),
    )
    box = message_box(page)
    box.fill("123457")
    box.press("Enter")
    last = bot_messages(page).last
    expect(last.locator(".msg__text")).to_have_text("Неверный код. Осталось 4 попытки.")
    assert "погоде" not in last.inner_text()
