"""Redis killed mid-conversation and started again: during the outage every request answers 503 in
the error shape (never 500, never served without limits); afterwards the same app, not restarted,
serves the same conversation again. Every message that got a 200 is in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from faults.support import RedisServer, async_wait_for

from backend.core.config import Settings
from helpers import client_for, derive_settings, stored_messages

QUESTION = "Как вернуть деньги? (вопрос {n})"
UNLIMITED = {"RATE_BURST": "1000/10 seconds", "RATE_BURST_IP": "1000/10 seconds"}


async def test_redis_restart_mid_conversation(
    settings: Settings, tmp_path: Path, app_factory: Any, private_redis: RedisServer
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, REDIS_URL=private_redis.url, **UNLIMITED))
    accepted: list[str] = []
    async with client_for(app) as http:

        async def ask(n: int) -> httpx.Response:
            message = QUESTION.format(n=n)
            response = await http.post("/ai/chat", json={"message": message})
            if response.status_code == 200:
                accepted.append(message)
            return response

        for n in range(3):
            first = await ask(n)
            assert first.status_code == 200, first.text
            assert first.json()["scenario"] == "FAQ" and first.json()["sources"]
        sid = http.cookies["sessionid"]

        private_redis.kill()
        for n in range(3, 6):
            down = await ask(n)
            assert down.status_code == 503, down.text
            assert down.json()["error_code"] == "SERVICE_UNAVAILABLE" and "redis" in down.json()["detail"]
            assert set(down.json()) == {"error_code", "detail"} and down.headers["Retry-After"]
        health = await http.get("/health")
        assert health.status_code == 503 and health.json()["checks"]["redis"].startswith("down")
        stream = await http.post("/ai/chat/stream", json={"message": "а скидки есть?"})
        assert stream.status_code == 503 and stream.json()["error_code"] == "SERVICE_UNAVAILABLE"

        private_redis.start()  # same port, empty memory: the session state and counters are gone

        async def serving() -> bool:
            return (await http.get("/health")).status_code == 200

        await async_wait_for(serving, 15, "the app to reconnect to the restarted Redis")
        for n in range(6, 9):
            again = await ask(n)
            assert again.status_code == 200, again.text
            assert again.json()["scenario"] == "FAQ"
    # Redis lost the 12 h state, so the conversation continues under a new session id: nothing stored in
    # PostgreSQL is lost, and the limits apply again (the counters start from zero in the new Redis).
    assert http.cookies["sessionid"] != sid  # an unknown sid is never adopted: a fresh session was issued
    stored = [text for _, text, _ in stored_messages(settings, "user")]
    assert len(accepted) == 6
    assert all(message in stored for message in accepted), (accepted, stored)
    assert len(stored_messages(settings, "assistant")) >= len(accepted)
