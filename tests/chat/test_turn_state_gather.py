"""Turns of one session sent at once through the real app (``asyncio.gather`` on ``POST /ai/chat``), and
what they leave in the session's Redis state.

A turn writes the session's state in the Lua round trip that releases its turn lock, with ``SET ... XX``
(``TurnLock.write_on_release``). Checked here end to end, on the suite's real PostgreSQL and Redis:

- two answers of the registration funnel's last stage sent at once (two tabs: the city in one, the niche
  in the other) lose neither answer: the turns that got 200 are exactly the ones whose answer is in the
  stored state and history, and a turn refused with 409 TURN_IN_PROGRESS stored nothing and changed nothing
  (SPEC section 3; its message was never taken);
- a log-out while a turn is in progress is not undone by that turn's state write: the session stays ended,
  and the same message sent twice (waiting for the turn lock meanwhile) is refused with 409 SESSION_CHANGED.
  The turn is held in progress deterministically by a real PostgreSQL table lock the test takes (the
  turn waits on it when it stores the visitor's message, after it has read the session's state and taken
  its turn lock), released once the log-out has answered. No product code is replaced.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
import redis.asyncio as aioredis

from backend.auth.mailer import latest_outbox_code
from backend.auth.sessions import SessionState, SessionStore
from backend.chat.turns import TurnLock
from backend.core.config import Settings
from helpers import client_for, derive_settings

PASSWORD = "a-long-password-1"
CITY, NICHE = "Казань", "стоматология"  # each alone is one answer of the funnel's stage 2


def _settings(settings: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    # Many sessions from one test client: the per-IP anti-flood would otherwise answer 429 first.
    derived: Settings = derive_settings(
        settings, tmp_path, RATE_BURST_IP="10000/10 seconds", RATE_DAILY_IP="10000/day", **overrides
    )
    return derived


def _connect(settings: Settings) -> Any:
    return psycopg2.connect(settings.database_url_sync.replace("postgresql+psycopg2://", "postgresql://"))


def _sql(settings: Settings, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = _connect(settings)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


async def _state(redis: aioredis.Redis, sid: str) -> SessionState | None:
    return SessionStore.parse(sid, await redis.get(SessionStore.key(sid)))


async def _at_stage_two(http: httpx.AsyncClient, settings: Settings, email: str) -> str:
    """A guest session through the funnel's first stage (e-mail, code); returns its ``sessionid``."""
    asked = await http.post("/ai/chat", json={"message": f"хочу зарегистрироваться, моя почта {email}"})
    assert asked.status_code == 200 and asked.json()["action"] == "ask_code", asked.text
    code = latest_outbox_code(settings, email)
    assert code is not None
    verified = await http.post("/ai/chat", json={"message": code})
    assert (verified.status_code, verified.json()["action"]) == (200, "ask_city"), verified.text
    sid = http.cookies.get(settings.SESSION_COOKIE_NAME)
    assert sid
    return sid


@pytest.mark.parametrize("wait_seconds", [30.0, 0.0], ids=["turns-wait", "turns-refused"])
async def test_two_answers_at_once_lose_no_state(
    settings: Settings, tmp_path: Path, app_factory: Any, async_redis: aioredis.Redis, wait_seconds: float
) -> None:
    """The city and the niche sent at once on one session. With time to wait, both turns run one after the
    other and the second sees the first's answer: the account is created with both. Without waiting
    (TURN_WAIT_SECONDS=0) one of them is usually refused with 409: then the stored state and history hold
    the answer of the turn that got 200 and nothing of the refused one."""
    app_settings = _settings(settings, tmp_path, TURN_WAIT_SECONDS=wait_seconds)
    app = await app_factory(app_settings)
    refused_rounds = 0
    for attempt in range(6):
        email = f"gather{attempt}@example.com"
        async with client_for(app) as http:
            sid = await _at_stage_two(http, app_settings, email)
            before = await _state(async_redis, sid)
            assert before is not None and before.data["funnel"]["stage"] == 2
            count = "SELECT count(*) FROM messages WHERE session_id = %s"
            (messages_before,) = _sql(app_settings, count, (before.chat_session_id,))[0]
            sent = (CITY, NICHE) if attempt % 2 == 0 else (NICHE, CITY)  # the first one sent tends to win
            responses = await asyncio.gather(*(http.post("/ai/chat", json={"message": m}) for m in sent))

        by_message = dict(zip(sent, responses, strict=True))
        assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
        answered = [m for m, r in by_message.items() if r.status_code == 200]
        refused = [m for m, r in by_message.items() if r.status_code == 409]
        assert answered, [r.text for r in responses]
        for message in refused:
            body = by_message[message].json()
            assert body["error_code"] == "TURN_IN_PROGRESS" and body["detail"], body
        if wait_seconds:
            assert not refused, [r.text for r in responses]

        # The history: every answered message stored once, in this session, and no refused one.
        stored = _sql(
            app_settings,
            "SELECT text FROM messages WHERE session_id = %s AND role = 'user' ORDER BY created_at",
            (before.chat_session_id,),
        )
        assert sorted(t for (t,) in stored[-len(answered) :]) == sorted(answered), stored
        assert not {t for (t,) in stored} & set(refused), stored
        # Each answered turn stored its message and its reply; a refused one neither.
        (messages_after,) = _sql(app_settings, count, (before.chat_session_id,))[0]
        assert messages_after - messages_before == 2 * len(answered)
        users = _sql(app_settings, "SELECT city, niche FROM users WHERE email = %s", (email,))

        if len(answered) == 2:
            # Both ran: the later one saw the earlier one's answer and completed the registration, which
            # signed the visitor in under a new session id; the old session stays ended.
            actions = sorted(by_message[m].json()["action"] for m in answered)
            assert actions in (["ask_city", "registered"], ["ask_niche", "registered"]), actions
            done = next(r for r in responses if r.json()["action"] == "registered")
            # In the history, the answer of the turn that completed the registration comes second.
            assert stored[-1][0] == next(m for m in answered if by_message[m] is done), stored
            new_sid = done.cookies.get(app_settings.SESSION_COOKIE_NAME)
            assert new_sid and new_sid != sid
            assert await async_redis.exists(SessionStore.key(sid)) == 0, "the ended session was written back"
            after = await _state(async_redis, new_sid)
            assert after is not None and after.chat_session_id == before.chat_session_id
            funnel = after.data["funnel"]
            assert (funnel["stage"], funnel["city"]) == (3, CITY) and funnel["niche"], funnel
            assert users == [(CITY, funnel["niche"])], users
        else:
            # One ran, alone: its answer is in the state (still stage 2, waiting for the other one).
            refused_rounds += 1
            (message,) = answered
            reply = by_message[message].json()
            assert reply["action"] == ("ask_niche" if message == CITY else "ask_city"), reply
            after = await _state(async_redis, sid)
            assert after is not None
            funnel = after.data["funnel"]
            assert funnel["stage"] == 2 and after.data["last_action"] == reply["action"], after.data
            assert (funnel["city"] == CITY) == (message == CITY), funnel
            assert bool(funnel["niche"]) == (message == NICHE), funnel
            assert users == []
    if not wait_seconds:
        assert refused_rounds, "two turns sent at once never met: nothing was refused in any round"


def _waiting_on_a_lock(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        count: int = cur.fetchone()[0]
        return count


async def test_a_log_out_during_a_turn_is_not_undone_by_the_turns_state(
    settings: Settings, tmp_path: Path, app_factory: Any, async_redis: aioredis.Redis
) -> None:
    """A signed-in visitor's turn is in progress (holding its turn lock, the session's state read) and the
    same message, sent twice, waits for it; the visitor logs out. The turn in progress completes (200) but
    its state write finds no session and writes nothing; the waiting one finds the session ended and is
    refused (409 SESSION_CHANGED) before storing anything."""
    app_settings = _settings(settings, tmp_path, TURN_WAIT_SECONDS=30)
    app = await app_factory(app_settings)
    email, question = "leaving@example.com", "Как вернуть деньги?"
    async with client_for(app) as http:
        assert (await http.post("/auth/register", json={"email": email, "password": PASSWORD})).status_code == 201
        signed_in = await http.post("/auth/jwt/login_custom", json={"email": email, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        first = await http.post("/ai/chat", json={"message": "привет"})
        assert first.status_code == 200, first.text
        sid = http.cookies.get(app_settings.SESSION_COOKIE_NAME)
        assert sid
        state = await _state(async_redis, sid)
        assert state is not None and state.user_id is not None
        turn_key = TurnLock(async_redis, sid, expire_seconds=5, wait_seconds=0).key

        # Hold the next turn in progress: it waits for this lock when it stores the visitor's message,
        # after it has taken its turn lock and read the session's state.
        holder, watcher = _connect(app_settings), _connect(app_settings)
        watcher.autocommit = True
        try:
            with holder.cursor() as cur:
                cur.execute("LOCK TABLE messages IN EXCLUSIVE MODE")
            turn = asyncio.create_task(http.post("/ai/chat", json={"message": question}))
            give_up = time.monotonic() + 20
            while not _waiting_on_a_lock(watcher):
                assert not turn.done(), turn.result().text
                assert time.monotonic() < give_up, "the turn never reached the held table"
                await asyncio.sleep(0.01)
            assert await async_redis.exists(turn_key) == 1  # the turn is in progress
            again = asyncio.create_task(http.post("/ai/chat", json={"message": question}))  # a double submit
            await asyncio.sleep(0.3)  # it waits for the turn lock (checked below, whichever way it went)
            assert not again.done(), again.result().text

            logged_out = await http.post("/auth/jwt/logout")
            assert logged_out.status_code == 200, logged_out.text
            assert await async_redis.exists(SessionStore.key(sid)) == 0
        finally:
            holder.rollback()  # the turn goes on
            holder.close()
            watcher.close()
        answered, repeated = await turn, await again
    assert answered.status_code == 200, answered.text
    assert await async_redis.exists(turn_key) == 0  # the turns are over, the lock released

    # The turn's state write did not bring the ended session back.
    assert await async_redis.exists(SessionStore.key(sid)) == 0, "the turn's state write undid the log-out"
    asked = _sql(
        app_settings,
        "SELECT count(*) FROM messages WHERE session_id = %s AND role = 'user' AND text = %s",
        (state.chat_session_id, question),
    )
    if repeated.status_code == 409:  # it had found the session before the log-out, and waited
        assert repeated.json()["error_code"] == "SESSION_CHANGED" and repeated.json()["detail"], repeated.text
        assert asked == [(1,)]  # the refused turn stored nothing in the ended conversation
    else:  # it came after the log-out (a slow machine): a new conversation, never the ended one
        assert repeated.status_code == 200, repeated.text
        new_sid = repeated.cookies.get(app_settings.SESSION_COOKIE_NAME)
        assert new_sid not in (None, sid), "a turn ran in the ended session"
        assert asked == [(1,)]

    # The old cookie starts a new conversation, not the ended one.
    async with client_for(app) as later:
        later.cookies.set(app_settings.SESSION_COOKIE_NAME, sid)
        resumed = await later.post("/ai/chat", json={"message": "привет"})
        assert resumed.status_code == 200, resumed.text
        new_sid = resumed.cookies.get(app_settings.SESSION_COOKIE_NAME)
        assert new_sid and new_sid != sid
    assert await async_redis.exists(SessionStore.key(sid)) == 0
