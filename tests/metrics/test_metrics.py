"""/metrics: who may read it, and that turns, limits and HTTP requests are counted."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from openai_standin import OpenAIStandIn, Scripted

from backend.core.config import Settings
from helpers import client_for, derive_settings, stored_messages


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text format (0 when absent)."""
    for line in body.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match.group(1) for key, value in labels.items()):
            return float(match.group(2))
    return 0.0


async def scrape(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_turns_and_requests_are_counted(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    reply = (await client.post("/ai/chat", json={"message": "Как вернуть деньги?"})).json()
    assert reply["scenario"] == "FAQ"
    after = await scrape(client)
    turns = {"scenario": "FAQ", "provider": "offline"}
    assert sample(after, "leadinc_chat_turns_total", **turns) == sample(before, "leadinc_chat_turns_total", **turns) + 1
    route = {"method": "POST", "route": "/ai/chat", "status": "200"}
    assert (
        sample(after, "leadinc_http_requests_total", **route)
        == sample(before, "leadinc_http_requests_total", **route) + 1
    )
    assert sample(after, "leadinc_tool_calls_total", tool="faq_search") > sample(
        before, "leadinc_tool_calls_total", tool="faq_search"
    )
    assert 'leadinc_queue_depth{queue="text"}' in after and 'leadinc_queue_depth{queue="audio"}' in after


async def test_turn_server_time_excludes_the_wait_for_the_model(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn, settings: Settings
) -> None:
    """A model that takes 0.6 s: the turn's wall time includes it, its server time does not."""
    answer = {"scenario": "OFFTOPIC", "action": "answer", "reply": "Здравствуйте! Чем помочь?", "fields": {}}
    fresh_standin.push(Scripted(content=json.dumps(answer, ensure_ascii=False), delay=0.6))
    before = await scrape(openai_client)
    assert (await openai_client.post("/ai/chat", json={"message": "привет"})).status_code == 200
    after = await scrape(openai_client)

    def delta(name: str) -> float:
        return sample(after, name, provider="openai") - sample(before, name, provider="openai")

    meta = [m for _, _, m in stored_messages(settings, "assistant")][-1]
    assert meta["provider"] == "openai" and meta["model_wait_ms"] >= 600
    assert meta["latency_ms"] >= 600  # the engine's wall time includes the model
    assert delta("leadinc_turn_server_seconds_count") == 1
    assert 0 < delta("leadinc_turn_server_seconds_sum") < 0.5


async def test_limit_rejections_are_counted(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_BURST="1/10 seconds"))
    async with client_for(app) as http:
        before = sample(await scrape(http), "leadinc_limit_rejections_total", error_code="FLOOD_LIMIT")
        await http.post("/ai/chat", json={"message": "привет"})
        assert (await http.post("/ai/chat", json={"message": "привет ещё раз"})).status_code == 429
        after = sample(await scrape(http), "leadinc_limit_rejections_total", error_code="FLOOD_LIMIT")
    assert after == before + 1


async def test_only_the_host_or_the_token_may_read(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, METRICS_TOKEN="m" * 32))
    async with client_for(app) as http:
        proxied = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403 and proxied.json()["error_code"] == "FORBIDDEN"
        wrong = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        right = await http.get(
            "/metrics", headers={"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer " + "m" * 32}
        )
        assert right.status_code == 200
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.7", 5000)), base_url="https://t"
    ) as remote:
        assert (await remote.get("/metrics")).status_code == 403
