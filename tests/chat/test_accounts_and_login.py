"""One account service behind password sign-up, the funnel and the chat login; the access status
the visitor reads (with real dates); signing in again from the chat by code.

Real PostgreSQL, Redis and the development outbox; the clock is moved by writing the account's
dates in PostgreSQL (the code reads the time from the clock and the dates from the row)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2

from backend.assistant.funnel import wants_login
from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import client_for, derive_settings

PASSWORD = "a-long-password-1"


def _sql(settings: Settings, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(settings.database_url_sync.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def _settings(settings: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    # Many sessions from one test client: the per-IP anti-flood would otherwise answer 429 first.
    return derive_settings(settings, tmp_path, RATE_BURST_IP="10000/10 seconds", RATE_DAILY_IP="10000/day", **overrides)


async def say(http: httpx.AsyncClient, message: str) -> dict[str, Any]:
    response = await http.post("/ai/chat", json={"message": message})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _moscow(moment: datetime) -> str:
    return (moment + timedelta(hours=3)).strftime("%d.%m.%Y")  # Europe/Moscow has no DST


async def _register_in_funnel(http: httpx.AsyncClient, settings: Settings, email: str) -> dict[str, Any]:
    await say(http, f"хочу зарегистрироваться, моя почта {email}")
    code = latest_outbox_code(settings, email)
    assert code is not None
    assert (await say(http, code))["action"] == "ask_city"
    done = await say(http, "Казань, стоматология")
    assert done["action"] == "registered", done
    return done


async def test_password_sign_up_gets_the_trial_then_the_trial_ended_reply(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(_settings(settings, tmp_path, TRIAL_DAYS=5))
    async with client_for(app) as guest:
        no_account = await say(guest, "покажи аналитику по стоматологиям")
    assert no_account["action"] == "need_registration" and no_account["dashboard"] is None
    assert "5 дней" in no_account["reply"] and "войти" in no_account["reply"]

    async with client_for(app) as http:
        registered = await http.post("/auth/register", json={"email": "pw@example.com", "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        ends = datetime.fromisoformat(registered.json()["trial_ends_at"])
        assert timedelta(days=5) - timedelta(minutes=5) < ends - datetime.now(UTC) <= timedelta(days=5)
        assert registered.json()["has_access"] is True
        assert (
            await http.post("/auth/jwt/login_custom", json={"email": "pw@example.com", "password": PASSWORD})
        ).status_code == 200

        during = await say(http, "покажи аналитику по стоматологиям")
        assert during["action"] == "show_analytics" and during["dashboard"]["table"]["rows"], during
        running = await say(http, "хочу зарегистрироваться")
        assert running["action"] == "already_registered"
        assert f"Пробный доступ открыт до {_moscow(ends)}" in running["reply"], running

        # Move the clock past the trial: the trial ended two days ago.
        ended_at = datetime.now(UTC) - timedelta(days=2)
        _sql(settings, "UPDATE users SET trial_ends_at = %s WHERE email = %s", (ended_at, "pw@example.com"))
        after = await say(http, "покажи аналитику по стоматологиям")
        assert after["action"] == "need_subscription" and after["dashboard"] is None
        assert f"пробный период закончился {_moscow(ended_at)}" in after["reply"], after
        assert after["fields"]["access"] == "trial_ended"
        assert (await http.get("/auth/users/me")).json()["has_access"] is False


async def test_the_trial_starts_once_per_account(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    """A password account that later goes through the funnel keeps its first trial dates."""
    app = await app_factory(_settings(settings, tmp_path))
    async with client_for(app) as http:
        assert (
            await http.post("/auth/register", json={"email": "once@example.com", "password": PASSWORD})
        ).status_code == 201
    first = datetime.now(UTC) - timedelta(days=1)
    _sql(settings, "UPDATE users SET trial_ends_at = %s WHERE email = %s", (first, "once@example.com"))
    async with client_for(app) as http:
        await say(http, "хочу зарегистрироваться, моя почта once@example.com")
        code = latest_outbox_code(settings, "once@example.com")
        assert code is not None
        signed_in = await say(http, code)  # the e-mail has an account: signed in, not registered again
        assert signed_in["action"] == "logged_in", signed_in
        assert f"пробный период закончился {_moscow(first)}" in signed_in["reply"]
    (stored,) = _sql(settings, "SELECT trial_ends_at FROM users WHERE email = %s", ("once@example.com",))
    assert abs(stored[0] - first) < timedelta(seconds=1)


async def test_a_user_from_last_week_signs_in_again_from_the_chat_in_three_messages(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    """Done-when of issue 14: sign-up in the funnel, history back-dated a week, the JWT gone; then
    «у меня уже есть аккаунт» → e-mail → code, and the old and new history are on the account."""
    app_settings = _settings(settings, tmp_path)
    app = await app_factory(app_settings)
    email = "lastweek@example.com"
    async with client_for(app) as first_visit:
        await say(first_visit, "Как вернуть деньги, если сервис не подошёл?")
        await _register_in_funnel(first_visit, app_settings, email)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    _sql(settings, "UPDATE messages SET created_at = %s", (week_ago,))
    _sql(settings, "UPDATE users SET created_at = %s WHERE email = %s", (week_ago, email))
    (user_id,) = _sql(settings, "SELECT id FROM users WHERE email = %s", (email,))[0]
    old_count = _sql(settings, "SELECT count(*) FROM messages WHERE user_id = %s", (user_id,))[0][0]
    assert old_count >= 8

    async with client_for(app) as http:  # a new browser: no cookies at all
        await say(http, "сколько стоит тариф?")  # a guest message before signing in
        asked = await say(http, "у меня уже есть аккаунт")
        assert (asked["scenario"], asked["action"], asked["stage"]) == ("REGISTRATION", "ask_contact", 1), asked
        sent = await say(http, email)
        assert sent["action"] == "ask_code" and "для входа" in sent["reply"], sent
        code = latest_outbox_code(app_settings, email)
        assert code is not None
        response = await http.post("/ai/chat", json={"message": code})
        signed_in = response.json()
        assert response.status_code == 200 and signed_in["action"] == "logged_in", signed_in
        assert "fastapiusersauth" in response.cookies
        assert "город" not in signed_in["reply"].lower()  # city and niche are not asked again
        assert signed_in["fields"]["niche"] and signed_in["fields"]["city"] == "Казань"
        me = (await http.get("/auth/users/me")).json()
        assert me["email"] == email and me["has_access"] is True
        offer = await say(http, "да")  # the analytics offer of the account's niche
        assert offer["action"] == "show_analytics", offer

    texts = [
        t for (t,) in _sql(settings, "SELECT text FROM messages WHERE user_id = %s ORDER BY created_at", (user_id,))
    ]
    assert "Как вернуть деньги, если сервис не подошёл?" in texts  # last week's history
    assert "сколько стоит тариф?" in texts and "у меня уже есть аккаунт" in texts  # today's guest turns moved
    assert len(texts) > old_count + 6
    assert _sql(settings, "SELECT count(*) FROM users")[0][0] == 1


async def test_an_e_mail_of_an_existing_account_typed_in_the_funnel_signs_in(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app_settings = _settings(settings, tmp_path)
    app = await app_factory(app_settings)
    async with client_for(app) as http:
        assert (
            await http.post("/auth/register", json={"email": "known@example.com", "password": PASSWORD})
        ).status_code == 201
    async with client_for(app) as http:
        start = await say(http, "known@example.com")  # a bare e-mail starts the funnel
        assert start["action"] == "ask_code"
        code = latest_outbox_code(app_settings, "known@example.com")
        response = await http.post("/ai/chat", json={"message": f"код {code}"})
        assert response.json()["action"] == "logged_in" and "fastapiusersauth" in response.cookies, response.text
    # «войти» with an e-mail that has no account: after the code, the visitor registers instead.
    async with client_for(app) as http:
        await say(http, "войти")
        await say(http, "fresh@example.com")
        verified = await say(http, latest_outbox_code(app_settings, "fresh@example.com") or "")
        assert verified["action"] == "ask_city" and "пока нет" in verified["reply"], verified


async def test_questions_about_signing_in_are_not_a_login(client: httpx.AsyncClient) -> None:
    reply = await say(client, "как войти в личный кабинет?")
    assert reply["scenario"] != "REGISTRATION" or reply["action"] != "ask_contact", reply


async def test_signed_in_caller_asking_to_sign_in_gets_the_access_status(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(_settings(settings, tmp_path))
    async with client_for(app) as http:
        await http.post("/auth/register", json={"email": "in@example.com", "password": PASSWORD})
        await http.post("/auth/jwt/login_custom", json={"email": "in@example.com", "password": PASSWORD})
        reply = await say(http, "войти")
    assert reply["action"] == "already_registered" and "in@example.com" in reply["reply"]


async def test_the_login_code_sent_twice_at_once_signs_in_once(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    """A double submit of the code (one tab, the same cookies): one turn signs in; the other waits and
    is refused in the error shape (its session was rotated) or answers from the signed-in state."""
    app_settings = _settings(settings, tmp_path)
    app = await app_factory(app_settings)
    async with client_for(app) as http:
        await http.post("/auth/register", json={"email": "twice@example.com", "password": PASSWORD})
    for _ in range(8):
        async with client_for(app) as http:
            await say(http, "войти")
            await say(http, "twice@example.com")
            code = latest_outbox_code(app_settings, "twice@example.com")
            first, second = await asyncio.gather(
                http.post("/ai/chat", json={"message": code}), http.post("/ai/chat", json={"message": code})
            )
            ok = [r for r in (first, second) if r.status_code == 200 and r.json()["action"] == "logged_in"]
            assert len(ok) == 1, [first.text, second.text]
            other = second if ok[0] is first else first
            assert other.status_code == 409, other.text
            assert other.json()["error_code"] in ("SESSION_CHANGED", "TURN_IN_PROGRESS") and other.json()["detail"]
        await _forget_codes(app_settings)  # the resend cooldown and hourly limit are per contact
    signed_in = _sql(settings, "SELECT count(*) FROM chat_sessions WHERE user_id IS NOT NULL")[0][0]
    assert signed_in == 8


async def _forget_codes(settings: Settings) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(settings.REDIS_URL)
    try:
        async for key in client.scan_iter("leadinc:otp:*"):
            await client.delete(key)
        async for key in client.scan_iter("leadinc:limits*"):
            await client.delete(key)
    finally:
        await client.aclose()


def test_the_sign_in_wish_is_a_statement_not_a_question_or_a_problem() -> None:
    wishes = ["Войти", "хочу зайти в свой аккаунт", "у меня уже есть аккаунт", "я уже регистрировалась", "вход: a@b.ru"]
    others = [
        "как войти в кабинет?",  # a question about signing in: FAQ
        "не получается зайти в кабинет",  # a problem report: FAQ
        "зарегистрируйте меня",  # a sign-up
        "есть ли у вас аккаунт для компаний",  # a question without "?"
        "привет",
    ]
    assert [wants_login(t) for t in wishes] == [True] * len(wishes)
    assert [wants_login(t) for t in others] == [False] * len(others)
