"""The OpenAI-compatible path against a real local server speaking chat-completions."""

from __future__ import annotations

import json
from typing import Any

import httpx
from openai_standin import OpenAIStandIn, Scripted, text, tool

from backend.core.config import Settings
from helpers import read_events, stored_messages


def final(scenario: str = "FAQ", reply: str = "Ответ по статье.", **extra: Any) -> Scripted:
    return text({"scenario": scenario, "action": "answer", "reply": reply, "fields": {}, **extra})


def tool_messages(standin: OpenAIStandIn) -> list[dict[str, Any]]:
    return [m for m in standin.requests[-1]["messages"] if m["role"] == "tool"]


def assistant_meta(settings: Settings) -> list[dict[str, Any]]:
    return [meta for _, _, meta in stored_messages(settings, "assistant")]


def user_messages(settings: Settings) -> list[str]:
    return [text for _, text, _ in stored_messages(settings, "user")]


async def test_scripted_tool_calls_produce_a_sourced_answer(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn, settings: Settings
) -> None:
    fresh_standin.push(tool("faq_search", query="возврат денег"))
    response = await openai_client.post("/ai/chat", json={"message": "как вернуть деньги?"})
    # the stand-in script ran out after the first call: the turn falls back to the offline model
    assert response.status_code == 200
    first_hits = json.loads(tool_messages(fresh_standin)[0]["content"])["results"]
    article_id = first_hits[0]["article_id"]

    fresh_standin.requests.clear()
    fresh_standin.push(
        tool("faq_search", query="возврат денег"),
        tool("faq_get_by_id", article_id=article_id),
        final(sources=[{"article_id": article_id, "title": "x"}, {"article_id": "999999", "title": "invented"}]),
    )
    reply = (await openai_client.post("/ai/chat", json={"message": "как вернуть деньги?"})).json()
    assert reply["scenario"] == "FAQ"
    assert reply["reply"] == "Ответ по статье."
    assert [s["article_id"] for s in reply["sources"]] == [article_id]  # the invented source is dropped
    assert reply["sources"][0]["title"] != "x"  # titles come from the knowledge base, not the model
    meta = assistant_meta(settings)[-1]
    assert meta["provider"] == "openai" and meta["fallback"] is False
    assert meta["usage"] == {"prompt_tokens": 300, "completion_tokens": 60}
    assert [c["name"] for c in meta["tool_calls"]] == ["faq_search", "faq_get_by_id"]
    assert {t["function"]["name"] for t in fresh_standin.requests[0]["tools"]} >= {"faq_search", "read_file"}


async def test_second_collection_in_one_turn_is_refused(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn
) -> None:
    fresh_standin.push(
        tool("faq_search", query="тарифы"),
        tool("analytics_get_by_niche", niche="стоматология"),
        final(),
    )
    reply = (await openai_client.post("/ai/chat", json={"message": "сколько стоит тариф?"})).json()
    assert reply["scenario"] == "FAQ"
    refused = json.loads(tool_messages(fresh_standin)[1]["content"])
    assert refused["error"].startswith("refused")


async def test_invalid_json_is_repaired_once(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn, settings: Settings
) -> None:
    fresh_standin.push(text("Конечно! Вот ответ без JSON."), final(scenario="OFFTOPIC", reply="Привет!"))
    reply = (await openai_client.post("/ai/chat", json={"message": "привет"})).json()
    assert reply["reply"] == "Привет!"
    assert "не прошёл проверку" in fresh_standin.requests[-1]["messages"][-1]["content"]
    assert assistant_meta(settings)[-1]["repaired"] is True


async def test_invalid_twice_falls_back_to_the_offline_model(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn, settings: Settings
) -> None:
    fresh_standin.push(text("{broken"), text('{"scenario": "SALES"}'))
    reply = (await openai_client.post("/ai/chat", json={"message": "привет"})).json()
    assert reply["scenario"] == "OFFTOPIC"
    meta = assistant_meta(settings)[-1]
    assert meta["fallback"] is True and meta["provider"] == "offline"


async def test_rate_limited_then_success(openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn) -> None:
    fresh_standin.push(Scripted(status=429), final(scenario="OFFTOPIC", reply="Здравствуйте!"))
    reply = (await openai_client.post("/ai/chat", json={"message": "привет"})).json()
    assert reply["reply"] == "Здравствуйте!"
    assert len(fresh_standin.requests) == 2


async def test_timeout_falls_back_and_keeps_the_message(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn, settings: Settings
) -> None:
    fresh_standin.default = Scripted(content="{}", delay=5)  # longer than the 2 s timeout, every retry
    response = await openai_client.post("/ai/chat", json={"message": "какие у вас тарифы?"})
    assert response.status_code == 200
    assert response.json()["scenario"] == "FAQ"
    assert "какие у вас тарифы?" in user_messages(settings)
    meta = assistant_meta(settings)[-1]
    assert meta["fallback"] is True and "model error" in meta["fallback_reason"]


async def test_the_model_cannot_register_or_skip_stages(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn
) -> None:
    fresh_standin.push(
        text(
            {
                "scenario": "REGISTRATION",
                "action": "registered",
                "reply": "Код верный, вы зарегистрированы!",
                "stage": 3,
                "fields": {"email": "x@example.com", "code": "123456"},
            }
        )
    )
    reply = (await openai_client.post("/ai/chat", json={"message": "я уже ввёл код 123456, зарегистрируй"})).json()
    assert reply["scenario"] == "REGISTRATION"
    # The visitor typed no e-mail: the one the model extracted is ignored, so no code goes anywhere.
    assert reply["stage"] == 1 and reply["action"] == "ask_contact"
    assert (await openai_client.get("/auth/users/me")).status_code == 401


async def test_streamed_completion_becomes_delta_events(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn
) -> None:
    fresh_standin.push(final(scenario="OFFTOPIC", reply="Здравствуйте! Я Лида, консультант Leadinc."))
    async with openai_client.stream("POST", "/ai/chat/stream", json={"message": "привет"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await read_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "message" and kinds.count("message") == 1
    assert kinds.count("delta") >= 2
    streamed = "".join(json.loads(data)["text"] for kind, data in events if kind == "delta")
    final_reply = json.loads(events[-1][1])
    assert streamed == final_reply["reply"] == "Здравствуйте! Я Лида, консультант Leadinc."


async def test_the_request_on_the_wire(openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn) -> None:
    """What the server receives, plain and streamed: the model, the whole conversation (system prompt
    first, the visitor's message last), the temperature and the tools (the provider hands messages and
    tool schemas to the SDK as ``extra_body``; the JSON must be the complete request all the same)."""
    fresh_standin.push(final(reply="Ответ."), final(scenario="OFFTOPIC", reply="Привет!"))
    assert (await openai_client.post("/ai/chat", json={"message": "как вернуть деньги?"})).status_code == 200
    async with openai_client.stream("POST", "/ai/chat/stream", json={"message": "привет"}) as response:
        await read_events(response)
    plain, streamed = fresh_standin.requests
    for request, said in ((plain, "как вернуть деньги?"), (streamed, "привет")):
        assert request["model"] == "gpt-4o-mini" and request["temperature"] == 0.3
        assert request["messages"][0]["role"] == "system" and request["messages"][0]["content"]
        assert request["messages"][-1]["role"] == "user" and said in request["messages"][-1]["content"]
        assert request["tool_choice"] == "auto"
        assert {t["function"]["name"] for t in request["tools"]} >= {"faq_search", "read_file"}
    assert "stream" not in plain
    assert streamed["stream"] is True and streamed["stream_options"] == {"include_usage": True}
