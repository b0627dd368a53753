"""Settings the visitor reads (SUPPORT_EMAIL, TRIAL_DAYS) change what the visitor sees, and small
talk from the offline model never repeats the session's previous reply word for word.

Real PostgreSQL and Redis; the model is the offline one or the local OpenAI-protocol stand-in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai_standin import OpenAIStandIn
from openai_standin import text as scripted_text
from sqlalchemy import create_engine, text

from backend.assistant.factory import SCENARIO_DIR, build_registry
from backend.assistant.texts import VisitorTexts, days
from backend.core.config import ROOT_DIR, Settings
from helpers import client_for, derive_settings

PASSWORD = "a-long-password-1"


async def say(http: httpx.AsyncClient, message: str) -> dict[str, Any]:
    response = await http.post("/ai/chat", json={"message": message})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _set(settings: Settings, statement: str) -> None:
    engine = create_engine(settings.database_url_sync)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


@pytest.mark.parametrize(("support", "trial_days"), [("help@shop.test", 14), ("care@other.test", 3)])
async def test_support_address_and_trial_length_follow_the_settings(
    settings: Settings, tmp_path: Path, app_factory: Any, support: str, trial_days: int
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, SUPPORT_EMAIL=support, TRIAL_DAYS=trial_days))
    async with client_for(app) as guest:
        offer = await say(guest, "покажи аналитику по стоматологиям")
        assert offer["action"] == "need_registration"
        assert days(trial_days) in offer["reply"] and "7 дней" not in offer["reply"]
    async with client_for(app) as http:
        registered = await http.post("/auth/register", json={"email": "t@example.com", "password": PASSWORD})
        ends = datetime.fromisoformat(registered.json()["trial_ends_at"])
        assert abs(ends - datetime.now(UTC) - timedelta(days=trial_days)) < timedelta(minutes=5)
        await http.post("/auth/jwt/login_custom", json={"email": "t@example.com", "password": PASSWORD})
        _set(settings, "UPDATE users SET trial_ends_at = now() - interval '1 day'")
        ended = await say(http, "покажи аналитику по стоматологиям")
    assert ended["action"] == "need_subscription"
    assert support in ended["reply"] and "leadinc.example" not in ended["reply"]


async def test_the_prompts_the_model_receives_name_the_configured_support_and_trial(
    standin_app: Any, fresh_standin: OpenAIStandIn
) -> None:
    app = await standin_app(SUPPORT_EMAIL="desk@shop.test", TRIAL_DAYS=21)
    fresh_standin.push(scripted_text({"scenario": "OFFTOPIC", "action": "answer", "reply": "Здравствуйте!"}))
    async with client_for(app) as http:
        await say(http, "привет")
    system = str(fresh_standin.requests[0]["messages"][0]["content"])
    assert "desk@shop.test" in system and "{{" not in system and "leadinc.example" not in system

    registry = build_registry(SCENARIO_DIR, VisitorTexts(support_email="desk@shop.test", trial_days=21))
    prompts = registry.tools["read_file"].cache  # type: ignore[attr-defined]
    assert "21 день" in prompts.read("scenario/scenario_offtopic.md")
    faq = prompts.read("scenario/scenario_faq.md")
    assert "desk@shop.test" in faq and "21 день" in faq and "{{" not in faq


def test_no_support_address_is_written_into_replies_or_prompts() -> None:
    """The support address exists only as the setting: no reply or prompt hard-codes one."""
    sources = [
        *(ROOT_DIR / "backend").rglob("*.py"),
        *SCENARIO_DIR.glob("*.md"),
        *(ROOT_DIR / "frontend_test").glob("*"),
    ]
    offenders = [str(p) for p in sources if p.is_file() and "leadinc.example" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_days_agree_with_the_number() -> None:
    assert [days(n) for n in (1, 2, 5, 11, 14, 21, 22, 25)] == [
        "1 день", "2 дня", "5 дней", "11 дней", "14 дней", "21 день", "22 дня", "25 дней",
    ]  # fmt: skip


@pytest.mark.parametrize("message", ["расскажи анекдот", "привет", "спасибо", "пока"])
async def test_small_talk_never_repeats_the_previous_reply(
    settings: Settings, tmp_path: Path, app_factory: Any, message: str
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, TRIAL_DAYS=10))
    async with client_for(app) as http:
        replies = [await say(http, message) for _ in range(6)]
    assert all(r["scenario"] == "OFFTOPIC" for r in replies), replies
    texts = [r["reply"] for r in replies]
    assert all(a != b for a, b in itertools.pairwise(texts)), texts
    assert len(set(texts)) >= 2
    assert "7 дней" not in " ".join(texts)


async def test_the_code_reply_names_the_configured_code_lifetime(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, CODE_TTL_SECONDS=180))
    async with client_for(app) as http:
        sent = await say(http, "хочу зарегистрироваться, моя почта ttl@example.com")
    assert sent["action"] == "ask_code" and "3 минуты" in sent["reply"], sent
