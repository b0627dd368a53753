"""Anonymous sessions are cheap: a visitor who only opened the page costs a Redis key and no database
row, and new sessions are limited per client IP (issue: security under concurrency)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from backend.core.config import Settings
from helpers import client_for, derive_settings


def count_rows(settings: Settings, table: str) -> int:
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 (test constants)
    finally:
        engine.dispose()


async def cookieless_get(app: Any) -> httpx.Response:
    async with client_for(app) as http:  # a fresh client: no cookie, as a bot or a new visitor
        return await http.get("/auth/session")


async def test_a_thousand_cookieless_visits_add_no_rows(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    values = derive_settings(settings, tmp_path, RATE_NEW_SESSION_IP="100000/10 minutes")
    app = await app_factory(values)
    before = count_rows(values, "chat_sessions")
    responses = []
    for _ in range(10):  # 1,000 in all, 100 at once
        responses += await asyncio.gather(*(cookieless_get(app) for _ in range(100)))
    assert [r.status_code for r in responses] == [200] * 1000
    assert len({r.cookies["sessionid"] for r in responses}) == 1000
    assert count_rows(values, "chat_sessions") == before == 0

    async with client_for(app) as http:  # the row comes with the first message, and only one
        await http.get("/auth/session")
        said = await asyncio.gather(*(http.post("/ai/chat", json={"message": f"привет {i}"}) for i in range(2)))
        assert {r.status_code for r in said} <= {200, 409}, [r.text for r in said]
        assert count_rows(values, "chat_sessions") == 1
        assert count_rows(values, "messages") >= 2


async def test_new_sessions_are_limited_per_ip(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    values = derive_settings(settings, tmp_path, RATE_NEW_SESSION_IP="5/10 minutes")
    app = await app_factory(values)
    async with client_for(app) as kept:  # a session created before the flood
        first = await kept.get("/auth/session")
        assert first.status_code == 200
        responses = await asyncio.gather(*(cookieless_get(app) for _ in range(40)))
        codes = [r.status_code for r in responses]
        assert codes.count(200) == 4 and codes.count(429) == 36, codes
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.json()["error_code"] == "SESSION_RATE_LIMITED"
        assert int(refused.headers["Retry-After"]) > 0
        assert "sessionid" not in refused.cookies
        # An existing session is not a new one: it keeps working past the limit.
        again = await kept.get("/auth/session")
        assert again.status_code == 200 and again.json()["renewed"] is False and first.json()["renewed"] is True
        reply = await kept.post("/ai/chat", json={"message": "Как вы ищете клиентов?"})
        assert reply.status_code == 200, reply.text
    assert count_rows(values, "chat_sessions") == 1
