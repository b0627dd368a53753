"""The language model endpoint misbehaves. Covered elsewhere (tests/chat/test_openai_path.py):
a timeout on every try, non-JSON twice, a wrong schema, 429 then success. Here: HTTP 500 on every
try, the endpoint not listening at all, a 500 on the streamed path, and a slow answer that still
fits the timeout (used, not abandoned). A failure always gives a 200 with the offline model's
reply, flagged in the stored metadata, and the user's message is stored."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from faults.support import free_port
from openai_standin import OpenAIStandIn, Scripted, text

from backend.core.config import Settings
from helpers import client_for, derive_settings, stored_messages

QUESTION = "Как вернуть деньги, если сервис не подошёл?"


def model_settings(settings: Settings, tmp_path: Path, base_url: str, timeout: float = 2) -> Settings:
    return derive_settings(
        settings,
        tmp_path,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=base_url,
        OPENAI_TIMEOUT_SECONDS=timeout,
        OPENAI_MAX_RETRIES=1,
    )


def last_turn(settings: Settings) -> tuple[list[str], dict[str, Any]]:
    users = [text for _, text, _ in stored_messages(settings, "user")]
    return users, stored_messages(settings, "assistant")[-1][2]


async def test_http_500_on_every_try_falls_back_flagged(
    settings: Settings, tmp_path: Path, app_factory: Any, fresh_standin: OpenAIStandIn
) -> None:
    fresh_standin.default = Scripted(status=500)
    app = await app_factory(model_settings(settings, tmp_path, fresh_standin.base_url))
    async with client_for(app) as http:
        response = await http.post("/ai/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["scenario"] == "FAQ" and reply["sources"] and reply["reply"]
    assert len(fresh_standin.requests) == 2  # the first try and the one retry, then the fallback
    users, meta = last_turn(settings)
    assert users == [QUESTION]
    assert meta["provider"] == "offline" and meta["fallback"] is True and "model error" in meta["fallback_reason"]


async def test_endpoint_not_listening_falls_back_flagged(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(model_settings(settings, tmp_path, f"http://127.0.0.1:{free_port()}/v1"))
    async with client_for(app) as http:
        started = time.monotonic()
        response = await http.post("/ai/chat", json={"message": QUESTION})
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json()["scenario"] == "FAQ"
    assert elapsed < 15  # refused connections fail fast; no hanging on a dead endpoint
    users, meta = last_turn(settings)
    assert users == [QUESTION] and meta["fallback"] is True


async def test_http_500_on_the_stream_still_ends_with_a_message(
    settings: Settings, tmp_path: Path, app_factory: Any, fresh_standin: OpenAIStandIn
) -> None:
    fresh_standin.default = Scripted(status=500)
    app = await app_factory(model_settings(settings, tmp_path, fresh_standin.base_url))
    async with client_for(app) as http:
        response = await http.post("/ai/chat/stream", json={"message": QUESTION})
    assert response.status_code == 200
    events = [line.split(":", 1)[1].strip() for line in response.text.splitlines() if line.startswith("event:")]
    assert events[-1] == "message" and "error" not in events
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    assert json.loads(data[-1])["scenario"] == "FAQ"
    users, meta = last_turn(settings)
    assert users == [QUESTION] and meta["fallback"] is True


async def test_slow_but_within_the_timeout_is_used(
    settings: Settings, tmp_path: Path, app_factory: Any, fresh_standin: OpenAIStandIn
) -> None:
    answer = {"scenario": "OFFTOPIC", "action": "answer", "reply": "Медленно, но верно!", "fields": {}}
    fresh_standin.push(Scripted(content=text(answer).content, delay=1.5))
    app = await app_factory(model_settings(settings, tmp_path, fresh_standin.base_url, timeout=6))
    async with client_for(app) as http:
        response = await http.post("/ai/chat", json={"message": "привет, как дела?"})
    assert response.status_code == 200
    assert response.json()["reply"] == "Медленно, но верно!"
    assert len(fresh_standin.requests) == 1  # waited for it: no duplicate call, no fallback
    _, meta = last_turn(settings)
    assert meta["provider"] == "openai" and meta["fallback"] is False


async def test_a_nul_character_in_the_models_reply_is_dropped_and_the_reply_stored(
    settings: Settings, tmp_path: Path, app_factory: Any, fresh_standin: OpenAIStandIn
) -> None:
    """PostgreSQL's text cannot hold NUL; a model that emits one must not fail the visitor's turn."""
    answer = {"scenario": "OFFTOPIC", "action": "answer", "reply": "При\u0000вет!", "fields": {}}
    fresh_standin.push(Scripted(content=text(answer).content))
    app = await app_factory(model_settings(settings, tmp_path, fresh_standin.base_url))
    async with client_for(app) as http:
        response = await http.post("/ai/chat", json={"message": "привет, как дела?"})
    assert response.status_code == 200, response.text
    assert response.json()["reply"] == "Привет!"
    assert [text for _, text, _ in stored_messages(settings, "assistant")] == ["Привет!"]


async def test_a_nul_character_in_the_models_fields_is_dropped_and_the_reply_stored(
    settings: Settings, tmp_path: Path, app_factory: Any, fresh_standin: OpenAIStandIn
) -> None:
    """The reply's fields are stored as JSONB, which cannot hold NUL either, in keys or values."""
    fields = {"no\u0000te": ["ok\u0000", {"deep": "a\u0000b"}]}
    answer = {"scenario": "OFFTOPIC", "action": "answer", "reply": "Привет!", "fields": fields}
    fresh_standin.push(Scripted(content=text(answer).content))
    app = await app_factory(model_settings(settings, tmp_path, fresh_standin.base_url))
    async with client_for(app) as http:
        response = await http.post("/ai/chat", json={"message": "привет, как дела?"})
    assert response.status_code == 200, response.text
    assert response.json()["fields"]["note"] == ["ok", {"deep": "ab"}]
    assert [text for _, text, _ in stored_messages(settings, "assistant")] == ["Привет!"]
