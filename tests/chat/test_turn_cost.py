"""What one ordinary turn costs in round trips to PostgreSQL and Redis (the real ones of the suite).

The counts are a budget, not an accident (BENCHMARKS.md, "Turn cost"): a change that adds a round trip
to every turn should have to say so here."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from asyncio import selector_events
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from openai_standin import OpenAIStandIn, Scripted
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event, make_url

from backend.chat import repository
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


@contextmanager
def writes_to_port(port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times the app writes to a socket connected to ``port`` (asyncpg sends each request,
    e.g. a cached prepared statement's bind and execute, as one write: one round trip)."""
    sent = [0]
    transport = selector_events._SelectorSocketTransport
    original = transport.write

    def counting(self: Any, data: Any) -> None:
        if (self.get_extra_info("peername") or ("", 0))[1] == port:
            sent[0] += 1
        original(self, data)

    with monkeypatch.context() as patch:
        patch.setattr(transport, "write", counting)
        yield sent


async def test_a_turn_reads_once_writes_twice_and_makes_two_redis_round_trips(
    settings: Settings, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await app_factory(settings)
    port = make_url(settings.DATABASE_URL).port or 5432
    async with client_for(app) as visitor:
        for message in ("Сколько стоит подписка?", "Как оплатить?"):  # the first stores the session's row
            first = await visitor.post("/ai/chat", json={"message": message})
            assert first.status_code == 200, first.text
        with statements(app) as sql, redis_round_trips(monkeypatch) as redis, writes_to_port(port, monkeypatch) as pg:
            second = await visitor.post("/ai/chat", json={"message": "А есть пробный период?"})
        assert second.status_code == 200 and second.json()["scenario"] == "FAQ", second.text
    # Nothing through SQLAlchemy: the history (with the handoff state and the last fallback flag) with the
    # visitor's message, then the reply, each one statement on the session's asyncpg connection.
    assert sql == []
    # PostgreSQL: those two statements, each a transaction of its own
    assert pg[0] == 2
    # the session, the four limits and the turn lock in one script (``TurnLock.open``); the new state with
    # the lock's release (``TurnLock.write_on_release``)
    assert redis[0] == 2


async def test_a_sessions_first_turn_stores_its_row_then_the_rest_as_an_ordinary_turn(
    settings: Settings, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first message of a session that has no row yet (a visitor who only opened the page): the row,
    then the history and the message in one statement, which also brings the new row's handoff state,
    so nothing asks for it again."""
    app = await app_factory(settings)
    port = make_url(settings.DATABASE_URL).port or 5432
    async with client_for(app) as other:  # the pool's connection opened and its statements prepared
        warm = await other.post("/ai/chat", json={"message": "Как оплатить?"})
        assert warm.status_code == 200, warm.text
    async with client_for(app) as visitor:
        started = await visitor.get("/auth/session")
        assert started.status_code == 200, started.text
        with statements(app) as sql, writes_to_port(port, monkeypatch) as pg:
            first = await visitor.post("/ai/chat", json={"message": "Сколько стоит подписка?"})
        assert first.status_code == 200 and first.json()["scenario"] == "FAQ", first.text
        state = await app.state.runtime.chat_service()._store.load(visitor.cookies[settings.SESSION_COOKIE_NAME])
    assert state is not None and state.stored
    # Through SQLAlchemy: the session's row (INSERT ... ON CONFLICT DO NOTHING).
    assert sql == ["INSERT"]
    # BEGIN, the row, the history with the visitor's message, COMMIT; the reply (a transaction of its own)
    assert pg[0] == 5
    async with app.state.db_factory() as db:
        recent = await repository.recent_messages(db, state.chat_session_id, 20)
    assert [role for role, _ in recent.history] == ["user", "assistant"]
    assert recent.handoff_state == "assistant"


async def test_the_history_and_the_message_in_one_statement_read_what_was_there_before(
    settings: Settings, app_factory: Any
) -> None:
    """The one-statement path (``chat.repository.recent_and_add``) reads the history as it was before
    the visitor's message, like the two statements it replaces: the history the engine sees ends with
    the previous reply, and the stored conversation holds every message once, in order."""
    app = await app_factory(settings)
    async with client_for(app) as visitor:
        texts = ["Сколько стоит подписка?", "А есть пробный период?", "Как оплатить?"]
        for text in texts:
            answer = await visitor.post("/ai/chat", json={"message": text})
            assert answer.status_code == 200, answer.text
        state = await app.state.runtime.chat_service()._store.load(visitor.cookies[settings.SESSION_COOKIE_NAME])
        assert state is not None
        async with app.state.db_factory() as db:
            recent = await repository.recent_messages(db, state.chat_session_id, 20)
    assert [role for role, _ in recent.history] == ["user", "assistant"] * 3
    assert [text for role, text in recent.history if role == "user"] == texts
    async with app.state.db_factory() as db:
        again, stored = await repository.recent_and_add(
            db, session_id=state.chat_session_id, user_id=None, text="ещё вопрос", limit=20
        )
        await db.commit()
        after = await repository.recent_messages(db, state.chat_session_id, 20)
    assert again == recent  # read before the insert
    assert after.history == [*recent.history, ("user", "ещё вопрос")] and after.handoff_state == recent.handoff_state
    assert isinstance(stored.id, uuid.UUID)


async def test_turns_waiting_on_the_model_hold_no_database_connection(
    standin_app: Any, fresh_standin: OpenAIStandIn
) -> None:
    """One pooled connection, four conversations whose turns all wait on a 1-second model at once (their
    first turns, then their second): a turn that kept a connection while it waited would leave the
    others to time out on the pool (503); none does, and the four wait together, not in turn."""
    reply = {"scenario": "FAQ", "action": "answer", "reply": "Ответ по статье.", "fields": {}}
    fresh_standin.default = Scripted(content=json.dumps(reply, ensure_ascii=False), delay=1.0)
    app = await standin_app(
        OPENAI_TIMEOUT_SECONDS=10,
        OPENAI_MAX_RETRIES=0,
        DB_POOL_SIZE=1,
        DB_MAX_OVERFLOW=0,
        DB_POOL_TIMEOUT_SECONDS=0.5,
    )
    visitors = [client_for(app) for _ in range(4)]
    try:
        for message in ("Сколько стоит подписка?", "А пробный период есть?"):
            started = time.monotonic()
            answers = await asyncio.gather(*(v.post("/ai/chat", json={"message": message}) for v in visitors))
            assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
            assert time.monotonic() - started < 3.5  # together: four in turn would take at least 4 s
    finally:
        for visitor in visitors:
            await visitor.aclose()
