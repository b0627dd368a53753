"""The stream says what happened: quotas before the first delta, a ``reset`` whenever text already
sent is replaced, and a final ``message`` that is the truth — the same reply /ai/chat gives.

Each test plays the same conversation on two sessions, one over /ai/chat/stream and one over
/ai/chat, and compares what the page would show at the end (the deltas after the last reset)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from openai_standin import OpenAIStandIn, Scripted, text

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import client_for, derive_settings, read_events


def page_text(events: list[tuple[str, str]]) -> str:
    """What chat.js shows: deltas appended, a reset clears them."""
    shown = ""
    for kind, data in events:
        if kind == "reset":
            shown = ""
        elif kind == "delta":
            shown += json.loads(data)["text"]
    return shown


async def stream(http: httpx.AsyncClient, message: str) -> list[tuple[str, str]]:
    async with http.stream("POST", "/ai/chat/stream", json={"message": message}) as response:
        assert response.status_code == 200, await response.aread()
        return await read_events(response)


def final(events: list[tuple[str, str]]) -> dict[str, Any]:
    kinds = [kind for kind, _ in events]
    assert kinds.count("message") == 1 and kinds[-1] == "message", events
    body: dict[str, Any] = json.loads(events[-1][1])
    assert page_text(events) == body["reply"], events  # the page ends with exactly the final text
    return body


async def test_offtopic_quota_is_checked_before_the_first_delta(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_OFFTOPIC="1/day"))
    async with client_for(app) as streamed, client_for(app) as plain:
        first = final(await stream(streamed, "расскажи анекдот"))
        assert first["scenario"] == "OFFTOPIC"
        assert (await plain.post("/ai/chat", json={"message": "расскажи анекдот"})).status_code == 200

        refused = await stream(streamed, "расскажи ещё анекдот")
        assert [kind for kind, _ in refused] == ["error"], refused  # not one word of the refused small talk
        error = json.loads(refused[0][1])
        expected = await plain.post("/ai/chat", json={"message": "расскажи ещё анекдот"})
        assert expected.status_code == 429 and expected.headers["retry-after"]
        assert error["error_code"] == expected.json()["error_code"] == "OFFTOPIC_LIMIT"
        assert error["detail"].split("(")[0] == expected.json()["detail"].split("(")[0]

        # A question about the product still streams while the small-talk quota is spent.
        faq = final(await stream(streamed, "Как вернуть деньги?"))
        assert faq["scenario"] == "FAQ"
        assert faq["reply"] == (await plain.post("/ai/chat", json={"message": "Как вернуть деньги?"})).json()["reply"]


async def test_a_model_failure_mid_stream_resets_the_text(standin_app: Any, fresh_standin: OpenAIStandIn) -> None:
    started = json.dumps(
        {
            "scenario": "OFFTOPIC",
            "action": "answer",
            "reply": "Здравствуйте! Сейчас расскажу вам одну длинную историю про погоду и не только.",
            "fields": {},
        },
        ensure_ascii=False,
    )
    app = await standin_app(OPENAI_TIMEOUT_SECONDS=2, OPENAI_MAX_RETRIES=0)
    async with client_for(app) as streamed, client_for(app) as plain:
        fresh_standin.push(Scripted(content=started, drop_after_chunks=6))
        events = await stream(streamed, "привет, как дела?")
        body = final(events)
        kinds = [kind for kind, _ in events]
        assert "reset" in kinds and kinds.index("delta") < kinds.index("reset"), kinds  # text was shown, then replaced
        assert "историю про погоду" not in body["reply"]

        fresh_standin.push(Scripted(status=500))  # the same turn without streaming: the model fails outright
        expected = (await plain.post("/ai/chat", json={"message": "привет, как дела?"})).json()
    assert body["reply"] == expected["reply"] and body["scenario"] == expected["scenario"]


async def test_a_funnel_override_resets_the_text(
    settings: Settings, tmp_path: Path, standin_app: Any, fresh_standin: OpenAIStandIn
) -> None:
    app = await standin_app(OPENAI_TIMEOUT_SECONDS=2, OPENAI_MAX_RETRIES=0)
    chatty = text(
        {
            "scenario": "OFFTOPIC",
            "action": "answer",
            "reply": "Какое красивое число! Давайте лучше поговорим о погоде.",
            "fields": {},
        }
    )
    replies = []
    for n, use_stream in enumerate((True, False)):
        email = f"override{n}@example.com"
        async with client_for(app) as http:
            fresh_standin.push(
                text(
                    {
                        "scenario": "REGISTRATION",
                        "action": "ask_contact",
                        "reply": "Давайте.",
                        "fields": {"email": email},
                    }
                )
            )
            asked = await http.post("/ai/chat", json={"message": f"регистрация, {email}"})
            assert asked.json()["action"] == "ask_code", asked.text
            code = latest_outbox_code(derive_settings(settings, tmp_path), email)
            wrong = f"{(int(str(code)) + 1) % 1_000_000:06d}"
            fresh_standin.push(chatty)  # the model takes the code for small talk; the funnel knows better
            if use_stream:
                events = await stream(http, wrong)
                kinds = [kind for kind, _ in events]
                assert "reset" in kinds and kinds.index("delta") < kinds.index("reset"), kinds
                replies.append(final(events))
            else:
                replies.append((await http.post("/ai/chat", json={"message": wrong})).json())
    streamed, plain = replies
    assert (streamed["scenario"], streamed["action"], streamed["stage"]) == ("REGISTRATION", "ask_code", 1)
    assert streamed["reply"] == plain["reply"] and "погоде" not in streamed["reply"]
