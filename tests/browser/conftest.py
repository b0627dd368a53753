"""Browser fixtures: real headless Chromium (the system's, never downloaded) driven by Playwright's
sync API against real embedded-mode servers started with ``python -m scripts.dev``.

Fixtures are package-scoped: the servers and the browser stop when the browser tests are done,
before the asyncio tests of other packages run. Screenshots go to ``var/test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from voice.speech_standin import SpeechStandIn

from backend.core.config import ROOT_DIR
from browser.chat_page import open_page
from browser.live_server import FIXTURE_CORPORA, GENEROUS_LIMITS, TRANSCRIPT, WHITELISTED, LiveServer

CHROMIUM = os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium")
ARTIFACTS = ROOT_DIR / "var" / "test-artifacts" / "browser"

expect.set_options(timeout=30_000)


@pytest.fixture(scope="package")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def stt_standin() -> Iterator[SpeechStandIn]:
    server = SpeechStandIn().start()
    server.transcript = TRANSCRIPT
    yield server
    server.stop()


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory, stt_standin: SpeechStandIn) -> Iterator[LiveServer]:
    """The product with the demo corpora, real workers, CSRF on and the STT stand-in."""
    live = LiveServer(
        "main",
        tmp_path_factory.mktemp("browser-main"),
        CSRF_ENABLED="true",
        STT_BASE_URL=stt_standin.base_url,
        STT_API_KEY="sk-browser-test",
        TTS_PROVIDER="espeak",
        SUBSCRIPTION_WHITELIST=WHITELISTED,
        **GENEROUS_LIMITS,
    )
    try:
        yield live.start()
    finally:
        live.stop()
        if live.log_path.exists():
            shutil.copy(live.log_path, ARTIFACTS / "server-main.log")


@pytest.fixture(scope="package")
def flood_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A small second server whose anti-flood limit is two messages per minute."""
    live = LiveServer(
        "flood",
        tmp_path_factory.mktemp("browser-flood"),
        CSRF_ENABLED="true",
        CELERY_EAGER="true",
        **{**GENEROUS_LIMITS, "RATE_BURST": "2/60 seconds"},
        **{k: str(v) for k, v in FIXTURE_CORPORA.items()},
    )
    try:
        yield live.start()
    finally:
        live.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set BROWSER_EXECUTABLE)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
                "--use-fake-device-for-media-stream",  # a synthetic microphone (a beep)
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    chat, errors = open_page(browser, server.url)
    yield chat
    chat.context.close()
    unexpected = [e for e in errors if "Failed to load resource" not in e]  # the HTTP failures the tests provoke
    assert not unexpected, unexpected
