"""Handoff to a human on real PostgreSQL and Redis: asking for a person (or two fallbacks in a row)
puts the conversation in *waiting* with a handoff lead row, the assistant stays silent, one of two
managers taking it at once wins, a manager's reply reaches that visitor only through /ai/messages, and
a release gives the conversation back to the assistant; one waiting too long is told so once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from admin.support import PASSWORD, make_superuser
from celery import Celery
from fastapi import FastAPI
from openai_standin import OpenAIStandIn
from security.api_processes import environment
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from voice.workers import WorkerProcess

from backend.chat.handoff import asks_for_person, tell_overdue
from backend.core.celery import broker_url
from backend.core.config import ROOT_DIR, Settings
from backend.core.database import create_sync_db_engine
from backend.core.orm import utcnow
from helpers import ADMIN_TOKEN, client_for, derive_settings, stored_messages

TOKEN = {"X-Admin-Token": ADMIN_TOKEN}


@pytest.fixture
async def app(settings: Settings, tmp_path: Path, app_factory: Any) -> FastAPI:
    return await app_factory(derive_settings(settings, tmp_path, RATE_LOGIN_IP="1000/minute"))  # type: ignore[no-any-return]


def handoff_rows(settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, handoff_state, lead payload) of every handoff lead row joined to its session."""
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.id::text, s.handoff_state, o.payload FROM lead_outbox o"
                    " JOIN chat_sessions s ON s.id::text = o.payload->>'session_id' WHERE o.kind = 'handoff'"
                )
            )
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        engine.dispose()


def state_of(settings: Settings, session_id: str) -> str:
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(text("SELECT handoff_state FROM chat_sessions WHERE id = :i"), {"i": session_id}).scalar()
            )
    finally:
        engine.dispose()


async def say(client: httpx.AsyncClient, message: str) -> dict[str, Any]:
    response = await client.post("/ai/chat", json={"message": message})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "message",
    [
        "Позовите менеджера, пожалуйста",
        "хочу поговорить с человеком",
        "Соедините с живым человеком",
        "оператор!",
        "Нужен живой человек",
        "переключите меня на сотрудника",
        "хочу написать менеджеру",
    ],
)
def test_requests_for_a_person_are_recognised(message: str) -> None:
    assert asks_for_person(message)


@pytest.mark.parametrize(
    "message",
    [
        "Сколько стоит подписка?",
        "Я менеджер по продажам, ищу клиентов",
        "Привет",
        "Хочу узнать, сколько людей пользуются сервисом",
        "Можно ли узнать цену?",
        # a person as the object of the visitor's own action (team members in the account)
        "Можно подключить к кабинету ещё двух сотрудников?",
        "Хочу выдать менеджеру отдела продаж отдельный логин",
    ],
)
def test_other_messages_are_not_a_handoff(message: str) -> None:
    assert not asks_for_person(message)


async def test_asking_for_a_person_hands_off_and_silences_the_assistant(app: FastAPI, settings: Settings) -> None:
    async with client_for(app) as visitor:
        reply = await say(visitor, "Позовите менеджера, пожалуйста")
        assert reply["action"] == "handoff" and "менеджер" in reply["reply"].lower()
        [(session_id, state, payload)] = handoff_rows(settings)
        assert state == "waiting" and payload["reason"] == "asked"

        silent = await say(visitor, "Сколько стоит подписка?")
        assert silent["action"] == "handoff_waiting"
        assert state_of(settings, session_id) == "waiting"
        assert [t for _, t, _ in stored_messages(settings, "user")][-1] == "Сколько стоит подписка?"
        assert len(handoff_rows(settings)) == 1  # no second lead while waiting

        listed = (await visitor.get("/admin/conversations", params={"handoff": "waiting"}, headers=TOKEN)).json()
        assert [c["id"] for c in listed["conversations"]] == [session_id]
        assert listed["conversations"][0]["handoff_state"] == "waiting"
        none = (await visitor.get("/admin/conversations", params={"handoff": "taken"}, headers=TOKEN)).json()
        assert none["total"] == 0


async def test_two_fallbacks_in_a_row_hand_off(
    openai_client: httpx.AsyncClient, fresh_standin: OpenAIStandIn, settings: Settings
) -> None:
    # The stand-in has no script: every model call fails and the turn falls back to the offline model.
    first = await say(openai_client, "Расскажите про тарифы")
    assert first["action"] != "handoff" and handoff_rows(settings) == []
    second = await say(openai_client, "А что по ценам?")
    assert second["action"] == "handoff"
    [(_, state, payload)] = handoff_rows(settings)
    assert state == "waiting" and payload["reason"] == "fallbacks"
    calls = len(fresh_standin.requests)
    third = await say(openai_client, "Алло?")
    assert third["action"] == "handoff_waiting" and len(fresh_standin.requests) == calls  # no model call


async def test_two_fallbacks_in_a_row_seen_past_the_history_window(settings: Settings, standin_app: Any) -> None:
    """The previous reply's fallback flag comes with the history read; when the window holds no
    assistant message (here: one message, the visitor's unanswered one), the turn still finds it."""
    app = await standin_app(OPENAI_TIMEOUT_SECONDS=2, OPENAI_MAX_RETRIES=1, HISTORY_TURNS=1, RATE_OFFTOPIC="1/day")
    async with client_for(app) as visitor:
        assert (await say(visitor, "Привет"))["scenario"] == "OFFTOPIC"  # fell back (no script): reply stored
        refused = await visitor.post("/ai/chat", json={"message": "Как дела?"})  # small talk over quota
        assert refused.json()["error_code"] == "OFFTOPIC_LIMIT"  # the message is stored, no reply
        assert (await say(visitor, "Сколько стоит подписка?"))["action"] == "handoff"
    [(_, state, payload)] = handoff_rows(settings)
    assert state == "waiting" and payload["reason"] == "fallbacks"


async def test_take_race_reply_delivery_and_release(app: FastAPI, settings: Settings) -> None:
    async with client_for(app) as visitor, client_for(app) as other, client_for(app) as admin:
        await say(other, "Привет")
        await say(visitor, "хочу поговорить с человеком")
        [(session_id, _, _)] = handoff_rows(settings)
        seen = (await visitor.get("/ai/messages")).json()
        assert seen["handoff_state"] == "waiting"
        last_id = seen["messages"][-1]["id"]

        async def take() -> httpx.Response:
            async with client_for(app) as http:
                return await http.post(f"/admin/conversations/{session_id}/take", headers=TOKEN)

        results = await asyncio.gather(take(), take())
        assert sorted(r.status_code for r in results) == [200, 409]
        lost = next(r for r in results if r.status_code == 409)
        assert lost.json()["error_code"] == "CONVERSATION_TAKEN"
        assert state_of(settings, session_id) == "taken"

        posted = await admin.post(
            f"/admin/conversations/{session_id}/reply", json={"text": "Здравствуйте, я Анна"}, headers=TOKEN
        )
        assert posted.status_code == 201, posted.text
        new = (await visitor.get("/ai/messages", params={"after": last_id})).json()
        assert [(m["text"], m["manager"], m["role"]) for m in new["messages"]] == [
            ("Здравствуйте, я Анна", True, "assistant")
        ]
        assert new["handoff_state"] == "taken"
        assert all(m["text"] != "Здравствуйте, я Анна" for m in (await other.get("/ai/messages")).json()["messages"])
        foreign = await other.get("/ai/messages", params={"after": last_id})  # another conversation's message id
        assert foreign.status_code == 404 and foreign.json()["error_code"] == "MESSAGE_NOT_FOUND"

        released = await admin.post(f"/admin/conversations/{session_id}/release", headers=TOKEN)
        assert released.status_code == 200 and released.json()["handoff_state"] == "assistant"
        again = await say(visitor, "Сколько стоит подписка?")
        assert again["action"] not in {"handoff", "handoff_waiting"}

        closed = await admin.post(f"/admin/conversations/{session_id}/close", headers=TOKEN)
        assert closed.json()["handoff_state"] == "closed"
        missing = await admin.post(f"/admin/conversations/{uuid.uuid4()}/take", headers=TOKEN)
        assert missing.status_code == 404 and missing.json()["error_code"] == "CONVERSATION_NOT_FOUND"


async def test_a_superuser_take_is_recorded_and_guards_refuse(app: FastAPI, settings: Settings) -> None:
    async with client_for(app) as visitor, client_for(app) as boss, client_for(app) as plain:
        await say(visitor, "позовите оператора")
        [(session_id, _, _)] = handoff_rows(settings)
        for http, email in ((boss, "boss@example.com"), (plain, "plain@example.com")):
            assert (await http.post("/auth/register", json={"email": email, "password": PASSWORD})).status_code == 201
            http.cookies.clear()
            assert (
                await http.post("/auth/jwt/login_custom", json={"email": email, "password": PASSWORD})
            ).status_code == 200
        make_superuser(settings, "boss@example.com")
        base = f"/admin/conversations/{session_id}"
        for path, body in (
            (f"{base}/take", None),
            (f"{base}/reply", {"text": "x"}),
            (f"{base}/release", None),
            (f"{base}/close", None),
        ):
            async with client_for(app) as guest:
                refused = await guest.post(path, json=body)
            assert refused.status_code == 401 and refused.json()["error_code"] == "NOT_AUTHENTICATED", path
            forbidden = await plain.post(path, json=body)
            assert forbidden.status_code == 403 and forbidden.json()["error_code"] == "ADMIN_REQUIRED", path
            wrong = await visitor.post(path, json=body, headers={"X-Admin-Token": "wrong"})
            assert wrong.status_code == 403 and wrong.json()["error_code"] == "ADMIN_TOKEN_INVALID", path
        assert state_of(settings, session_id) == "waiting"
        taken = await boss.post(f"{base}/take")
        assert taken.status_code == 200 and taken.json()["handoff_by"] is not None
        blank = await boss.post(f"{base}/reply", json={"text": "   "})
        assert blank.status_code == 422 and blank.json()["error_code"] == "VALIDATION_ERROR"


async def test_a_visitor_waiting_too_long_is_told_once_and_asked_for_a_contact(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    timed = derive_settings(settings, tmp_path, HANDOFF_TIMEOUT_MINUTES=10)
    async with client_for(app) as visitor:
        await say(visitor, "соедините с оператором")
        last_id = (await visitor.get("/ai/messages")).json()["messages"][-1]["id"]
        engine = create_sync_db_engine(timed)
        try:
            with Session(engine) as db:
                assert tell_overdue(db, timed, utcnow() + timedelta(minutes=5)) == 0  # not overdue yet
                assert tell_overdue(db, timed, utcnow() + timedelta(minutes=11)) == 1
                db.commit()
                assert tell_overdue(db, timed, utcnow() + timedelta(minutes=30)) == 0  # told once
                off = derive_settings(settings, tmp_path, HANDOFF_TIMEOUT_MINUTES=0)
                assert tell_overdue(db, off, utcnow() + timedelta(days=1)) == 0
        finally:
            engine.dispose()
        new = (await visitor.get("/ai/messages", params={"after": last_id})).json()["messages"]
        assert len(new) == 1 and new[0]["notice"] and not new[0]["manager"]
        assert "e-mail или телефон" in new[0]["text"]  # a guest without a contact is asked for one


async def test_the_timeout_runs_on_a_real_worker_and_the_beat(app: FastAPI, settings: Settings, tmp_path: Path) -> None:
    async with client_for(app) as visitor:
        await say(visitor, "позовите менеджера")
    await asyncio.to_thread(run_the_timeout_on_a_worker, settings, tmp_path)


def run_the_timeout_on_a_worker(settings: Settings, tmp_path: Path) -> None:
    [(session_id, _, _)] = handoff_rows(settings)
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.begin() as conn:  # the visitor has waited 20 minutes
            conn.execute(
                text("UPDATE chat_sessions SET handoff_at = now() - interval '20 minutes' WHERE id = :i"),
                {"i": session_id},
            )
    finally:
        engine.dispose()
    worker = WorkerProcess(environment(settings, HANDOFF_TIMEOUT_MINUTES=15, LOG_LEVEL="INFO"), tmp_path, queues="text")
    worker.start(timeout=120)
    producer = Celery(broker=broker_url(settings.REDIS_URL), backend=broker_url(settings.REDIS_URL))
    producer.conf.task_routes = {"chat.*": {"queue": "text"}}
    try:
        assert producer.send_task("chat.handoff_timeouts").get(timeout=60) == {"told": 1}
        assert producer.send_task("chat.handoff_timeouts").get(timeout=60) == {"told": 0}
    finally:
        producer.close()
        worker.stop()
    assert [m for _, _, m in stored_messages(settings, "assistant")][-1] == {"handoff": "timeout"}
    code = "from backend.worker import app; import json; print(json.dumps(app.conf.beat_schedule, default=str))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment(settings), cwd=ROOT_DIR, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    schedule = json.loads(result.stdout.strip().splitlines()[-1])
    assert schedule["chat-handoff-timeouts"]["task"] == "chat.handoff_timeouts"
