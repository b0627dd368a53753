"""Turns of one session run one after the other, and one turn is one unit of work.

Everything here runs against the real PostgreSQL and Redis of the suite; the failure after account
creation is injected by a real PostgreSQL trigger, not by replacing our code."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import client_for, derive_settings, set_cookies, stored_messages


def _turn_settings(settings: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    # Many sessions from one test client: the per-IP anti-flood would otherwise answer 429 first.
    return derive_settings(settings, tmp_path, RATE_BURST_IP="10000/10 seconds", RATE_DAILY_IP="10000/day", **overrides)


async def _to_stage_one(http: httpx.AsyncClient, settings: Settings, email: str) -> str:
    asked = await http.post("/ai/chat", json={"message": f"хочу зарегистрироваться, моя почта {email}"})
    assert asked.status_code == 200 and asked.json()["action"] == "ask_code", asked.text
    code = latest_outbox_code(settings, email)
    assert code is not None
    return code


def _funnel_rows(settings: Settings, email: str) -> tuple[int, list[tuple[int | None, int | None]]]:
    conn = psycopg2.connect(settings.database_url_sync.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM users WHERE email = %s", (email,))
            users = cur.fetchone()[0]
            cur.execute(
                "SELECT e.from_stage, e.to_stage FROM funnel_events e JOIN chat_sessions s ON s.id = e.session_id "
                "WHERE s.contact = %s ORDER BY e.at",
                (email,),
            )
            return users, list(cur.fetchall())
    finally:
        conn.close()


async def test_the_right_code_sent_twice_at_once_verifies_once(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app_settings = _turn_settings(settings, tmp_path)
    app = await app_factory(app_settings)
    outcomes: dict[str, int] = {"waited": 0, "409": 0}
    for attempt in range(20):
        email = f"twice{attempt}@example.com"
        async with client_for(app) as http:
            code = await _to_stage_one(http, app_settings, email)
            first, second = await asyncio.gather(
                http.post("/ai/chat", json={"message": code}), http.post("/ai/chat", json={"message": code})
            )
            answers = [r for r in (first, second) if r.status_code == 200]
            verified = [r for r in answers if r.json()["action"] == "ask_city"]
            assert len(verified) == 1, [r.text for r in (first, second)]
            other = second if verified[0] is first else first
            if other.status_code == 409:
                outcomes["409"] += 1
                assert other.json()["error_code"] == "TURN_IN_PROGRESS" and other.json()["detail"]
            else:
                outcomes["waited"] += 1
                assert other.status_code == 200, other.text
                assert other.json()["stage"] == 2, other.text  # it saw the verified code: no "send the code"
            done = await http.post("/ai/chat", json={"message": "Казань, стоматология"})
            assert (done.json()["action"], done.json()["stage"]) == ("registered", 3), done.text
            assert "fastapiusersauth" in done.cookies
        users, transitions = _funnel_rows(app_settings, email)
        assert users == 1
        assert transitions[-1] == (2, 3) and (1, 2) in transitions and (2, 1) not in transitions
    assert outcomes["waited"] + outcomes["409"] == 20


async def test_a_busy_session_answers_409_in_the_error_shape(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    """No waiting at all (TURN_WAIT_SECONDS=0): the second of two simultaneous turns is refused, not dropped
    silently, and its message was never taken (nothing half-done to repair)."""
    app = await app_factory(_turn_settings(settings, tmp_path, TURN_WAIT_SECONDS=0))
    async with client_for(app) as http:
        await http.post("/ai/chat", json={"message": "привет"})  # the session exists
        responses = await asyncio.gather(
            *(http.post("/ai/chat", json={"message": "Как вернуть деньги?"}) for _ in range(2)),
            http.post("/ai/chat/stream", json={"message": "Как вернуть деньги?"}),
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}, [r.text for r in responses]
    refused = [r for r in responses if r.status_code == 409]
    assert refused, "three simultaneous turns on one session all ran without waiting"
    for response in refused:
        assert response.json()["error_code"] == "TURN_IN_PROGRESS" and response.json()["detail"]
    asked = [t for r, t, _ in stored_messages(settings, "user") if t == "Как вернуть деньги?"]
    assert len(asked) == 3 - len(refused)


def _journal_lines(settings: Settings) -> list[str]:
    return Path(settings.error_journal_path).read_text().splitlines()


async def _install_failing_reply_trigger(settings: Settings, at_commit: bool) -> None:
    """A real PostgreSQL trigger: storing the registration reply fails, after the funnel created the
    account; ``at_commit``: a deferred constraint trigger, so the turn runs to its end and COMMIT fails."""
    when = (
        "CREATE CONSTRAINT TRIGGER leadinc_test_fail_reply AFTER INSERT ON messages DEFERRABLE INITIALLY DEFERRED"
        if at_commit
        else "CREATE TRIGGER leadinc_test_fail_reply BEFORE INSERT ON messages"
    )
    conn = psycopg2.connect(settings.database_url_sync.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                CREATE OR REPLACE FUNCTION leadinc_test_fail_reply() RETURNS trigger AS $$
                BEGIN
                    IF NEW.role = 'assistant' AND NEW.scenario = 'REGISTRATION' AND NEW.text LIKE 'Готово%' THEN
                        RAISE EXCEPTION 'injected failure after account creation';
                    END IF;
                    RETURN NEW;
                END $$ LANGUAGE plpgsql;
                DROP TRIGGER IF EXISTS leadinc_test_fail_reply ON messages;
                """
                + f"{when} FOR EACH ROW EXECUTE FUNCTION leadinc_test_fail_reply();"
            )
    finally:
        conn.close()


def _drop_failing_reply_trigger(settings: Settings) -> None:
    conn = psycopg2.connect(settings.database_url_sync.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TRIGGER IF EXISTS leadinc_test_fail_reply ON messages")
    finally:
        conn.close()


@pytest.mark.parametrize("at_commit", [False, True], ids=["reply-insert-fails", "commit-fails"])
async def test_a_failure_after_account_creation_leaves_no_account_and_no_cookie(
    settings: Settings, tmp_path: Path, app_factory: Any, at_commit: bool
) -> None:
    """The request's unit of work commits before the response goes out: even a failing COMMIT is
    answered as an error, without the login cookie, and leaves no account."""
    app_settings = _turn_settings(settings, tmp_path)
    app = await app_factory(app_settings)
    email = "broken@example.com"
    async with client_for(app) as http:
        code = await _to_stage_one(http, app_settings, email)
        assert (await http.post("/ai/chat", json={"message": code})).json()["action"] == "ask_city"
        await _install_failing_reply_trigger(app_settings, at_commit)
        try:
            failed = await http.post("/ai/chat", json={"message": "Казань, стоматология"})
        finally:
            _drop_failing_reply_trigger(app_settings)
        assert failed.status_code == 500, failed.text  # our bug, not an outage: no Retry-After
        assert failed.json()["error_code"] == "INTERNAL_ERROR" and "retry-after" not in failed.headers
        request_id = failed.headers["x-request-id"]
        journal = [json.loads(line) for line in _journal_lines(app_settings)]
        assert any(r["kind"] == "unhandled_error" and r["request_id"] == request_id for r in journal)
        assert "fastapiusersauth" not in set_cookies(failed)
        users, transitions = _funnel_rows(app_settings, email)
        assert users == 0 and (2, 3) not in transitions
        # The visitor's message was stored first; the session is still at stage 2, so a retry completes.
        assert "Казань, стоматология" in [t for _, t, _ in stored_messages(app_settings, "user")]
        retried = await http.post("/ai/chat", json={"message": "Казань, стоматология"})
        assert (retried.json()["action"], retried.json()["stage"]) == ("registered", 3), retried.text
        assert "fastapiusersauth" in set_cookies(retried)
    assert _funnel_rows(app_settings, email)[0] == 1
