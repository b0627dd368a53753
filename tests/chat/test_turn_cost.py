"""What one ordinary turn costs in round trips to PostgreSQL and Redis (the real ones of the suite).

The counts are a budget, not an accident (BENCHMARKS.md, "Turn cost"): a change that adds a round trip
to every turn should have to say so here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event

from backend.core.config import Settings
from helpers import client_for


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app sends while inside (their first word)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    engine = app.state.db_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times any Redis connection writes a request (a pipeline is one)."""
    sent = [0]
    original = AbstractConnection.send_packed_command

    async def counting(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        sent[0] += 1
        await original(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", counting)
        yield sent


async def test_a_turn_reads_once_writes_twice_and_makes_five_redis_round_trips(
    settings: Settings, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await app_factory(settings)
    async with client_for(app) as visitor:
        first = await visitor.post("/ai/chat", json={"message": "Сколько стоит подписка?"})
        assert first.status_code == 200, first.text
        with statements(app) as sql, redis_round_trips(monkeypatch) as redis:
            second = await visitor.post("/ai/chat", json={"message": "А есть пробный период?"})
        assert second.status_code == 200 and second.json()["scenario"] == "FAQ", second.text
    # the history with the handoff state and the last fallback flag; the visitor's message; the reply
    assert sql == ["SELECT", "INSERT", "INSERT"]
    # the session; the four limits; the turn lock with the state left by the previous turn; the new
    # state; the lock's release
    assert redis[0] == 5
