"""What a visitor does on the chat page, in Playwright terms (auto-waiting, no sleeps)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings


class PageErrors(list[str]):
    """Uncaught exceptions and console errors of the page; a test fails on any it did not expect."""


def open_page(
    browser: Browser, base_url: str, path: str = "/", referer: str | None = None, **context_options: Any
) -> tuple[Page, PageErrors]:
    """The chat page at ``path`` (e.g. with UTM tags), as if followed from ``referer``."""
    options: dict[str, Any] = {"viewport": {"width": 1100, "height": 900}, "locale": "ru-RU"}
    options.update(context_options)
    context = browser.new_context(base_url=base_url, permissions=["microphone"], **options)
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.goto(path, referer=referer)
    expect(page.locator("#account-status")).to_have_text("Гость")  # the page finished starting
    return page, errors


PASSWORD = "a-long-password-1"


def message_box(page: Page) -> Locator:
    return page.get_by_label("Ваше сообщение")


def bot_messages(page: Page) -> Locator:
    return page.locator("#log .msg--bot")


def ask(page: Page, text: str) -> Locator:
    """Type a message, press Enter, wait until the reply has finished streaming; return the reply."""
    # The reply shows (aria-busy false) when its last event arrives; the page takes a new message once
    # the stream has closed too, as a visitor sees by the send button coming back. Enter before that is
    # ignored, so wait for it as they would.
    expect(page.get_by_role("button", name="Отправить", exact=True)).to_be_enabled()
    before = bot_messages(page).count()
    box = message_box(page)
    box.fill(text)
    box.press("Enter")
    reply = bot_messages(page).nth(before)
    expect(reply).to_have_attribute("aria-busy", "false")
    expect(reply.locator(".msg__text")).not_to_be_empty()
    return reply


def watch_typing(page: Page) -> None:
    """Record in the page whether a reply showed the typing state and how many streamed updates it had."""
    page.evaluate(
        """() => {
          // Records are replayed in order, so the result does not depend on when the observer runs.
          window.__typing = { seen: false, updates: 0 };
          let busy = false;
          new MutationObserver((records) => {
            for (const r of records) {
              if (r.type === "attributes" && r.attributeName === "aria-busy") {
                busy = r.oldValue !== "true";
                if (busy) window.__typing.seen = true;
              } else if (busy && r.type === "childList" && r.target.classList.contains("msg__text")) {
                window.__typing.updates++;
              }
            }
          }).observe(document.getElementById("log"), {
            subtree: true, childList: true, attributes: true, attributeFilter: ["aria-busy"], attributeOldValue: true,
          });
        }"""
    )


def outbox_code(var_dir: Path, email: str) -> str:
    code = latest_outbox_code(Settings(VAR_DIR=var_dir, _env_file=None), email)  # type: ignore[call-arg]
    assert code is not None and len(code) == 6 and code.isdigit(), code
    return code


def csrf_headers(page: Page) -> dict[str, str]:
    token = next((c["value"] for c in page.context.cookies() if c["name"] == "csrftoken"), "")
    return {"X-CSRFToken": token}


def sign_in_with_password(page: Page, email: str) -> None:
    """Register and sign in through the API with the page's own cookies, then reload the page."""
    body = {"email": email, "password": PASSWORD}
    created = page.request.post("/auth/register", data=body, headers=csrf_headers(page))
    assert created.status == 201 or "USER_ALREADY_EXISTS" in created.text(), created.text()  # an earlier test
    login = page.request.post("/auth/jwt/login_custom", data=body, headers=csrf_headers(page))
    assert login.ok, login.text()
    page.reload()
    expect(page.locator("#account-status")).to_have_text(f"Вы вошли: {email}")


def spoken_question(folder: Path, text: str, fmt: str = "ogg") -> Path:
    """A real voice recording of ``text``: espeak-ng speech, encoded by ffmpeg."""
    wav = folder / "question.wav"
    subprocess.run(["espeak-ng", "-v", "ru", "-s", "150", "-w", str(wav), text], check=True, timeout=60)
    out = folder / f"question.{fmt}"
    codec = {"ogg": ["-c:a", "libopus", "-b:a", "32k"], "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"]}[fmt]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-ac", "1", "-ar", "16000", *codec, str(out)],
        check=True,
        timeout=60,
    )
    return out
