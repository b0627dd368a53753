"""The read-only operator console API on real PostgreSQL: conversation filters, text search and
pagination, transcripts with each assistant turn's fields, leads and their streamed CSV, the funnel per
day; and every console endpoint refuses guests (401) and non-superusers (403)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from admin.support import PASSWORD, make_superuser
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from backend.core.config import Settings
from helpers import ADMIN_TOKEN, client_for

TOKEN = {"X-Admin-Token": ADMIN_TOKEN}
NOW = datetime.now(UTC).replace(microsecond=0)
ENDPOINTS = (
    "/admin/conversations",
    f"/admin/conversations/{uuid.uuid4()}",
    "/admin/leads",
    "/admin/leads.csv",
    "/admin/stats/funnel",
)


def assistant_meta(scenario: str, *, fallback: bool = False, action: str = "reply") -> dict[str, Any]:
    return {
        "scenario": scenario,
        "action": action,
        "provider": "offline" if fallback else "gpt-test",
        "fallback": fallback,
        "fallback_reason": "model error: timeout" if fallback else None,
        "tool_calls": [{"name": "search_faq", "arguments": {"query": "цена"}}],
        "sources": [{"id": "faq-1", "title": "Тарифы"}],
        "latency_ms": 123,
    }


def seed_conversation(
    settings: Settings,
    turns: list[tuple[str, str, str | None, dict[str, Any]]],
    *,
    start: datetime,
    user_email: str | None = None,
    stage: int | None = None,
) -> uuid.UUID:
    """A conversation row with the given (role, text, scenario, meta) turns, one minute apart."""
    session_id = uuid.uuid4()
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.begin() as conn:
            user_id = None
            if user_email is not None:
                user_id = conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": user_email}).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO chat_sessions (id, user_id, is_guest, funnel_stage, created_at, updated_at)"
                    " VALUES (:id, :u, :g, :st, :t, :t)"
                ),
                {"id": session_id, "u": user_id, "g": user_id is None, "st": stage, "t": start},
            )
            for n, (role, body, scenario, meta) in enumerate(turns):
                conn.execute(
                    text(
                        "INSERT INTO messages (id, session_id, user_id, role, scenario, text, metadata, created_at)"
                        " VALUES (:id, :s, :u, :r, :sc, :tx, CAST(:m AS jsonb), :t)"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "s": session_id,
                        "u": user_id,
                        "r": role,
                        "sc": scenario,
                        "tx": body,
                        "m": json.dumps(meta),
                        "t": start + timedelta(minutes=n),
                    },
                )
            if stage is not None:
                for to_stage in range(1, stage + 1):
                    conn.execute(
                        text(
                            "INSERT INTO funnel_events (id, session_id, from_stage, to_stage, at)"
                            " VALUES (:id, :s, :f, :t, :at)"
                        ),
                        {"id": uuid.uuid4(), "s": session_id, "f": to_stage - 1, "t": to_stage, "at": start},
                    )
    finally:
        engine.dispose()
    return session_id


async def register(client: httpx.AsyncClient, email: str) -> httpx.Cookies:
    created = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    client.cookies.clear()
    login = await client.post("/auth/jwt/login_custom", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookies = httpx.Cookies(client.cookies)
    client.cookies.clear()
    return cookies


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=TOKEN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(listing: dict[str, Any]) -> list[str]:
    return [c["id"] for c in listing["conversations"]]


@pytest.fixture
async def seeded(client: httpx.AsyncClient, admin_settings: Settings) -> dict[str, uuid.UUID]:
    await register(client, "lead@example.com")
    old = NOW - timedelta(days=10)
    return {
        # A guest's FAQ chat ten days ago, answered by the model.
        "guest_faq": seed_conversation(
            admin_settings,
            [("user", "Сколько стоит тариф?", None, {}), ("assistant", "От 990 ₽.", "FAQ", assistant_meta("FAQ"))],
            start=old,
        ),
        # A guest whose analytics answer fell back to the offline model, today.
        "guest_fallback": seed_conversation(
            admin_settings,
            [
                ("user", "Покажи аналитику по стоматологиям", None, {}),
                ("assistant", "Вот что есть.", "ANALYTICS", assistant_meta("ANALYTICS", fallback=True)),
            ],
            start=NOW - timedelta(hours=2),
            stage=1,
        ),
        # The registered lead, today: the funnel to stage 2 and an error action.
        "lead": seed_conversation(
            admin_settings,
            [
                ("user", "Хочу зарегистрироваться, 100%_скидка", None, {}),
                ("assistant", "Ваш e-mail?", "REGISTRATION", assistant_meta("REGISTRATION")),
                ("user", "lead@example.com", None, {}),
                (
                    "assistant",
                    "Ошибка, попробуйте позже.",
                    "REGISTRATION",
                    assistant_meta("REGISTRATION", action="error"),
                ),
            ],
            start=NOW - timedelta(hours=1),
            user_email="lead@example.com",
            stage=2,
        ),
    }


async def test_filters_search_and_pagination(client: httpx.AsyncClient, seeded: dict[str, uuid.UUID]) -> None:
    everything = await get(client, "/admin/conversations")
    assert everything["total"] == 3
    # Newest last message first.
    assert ids(everything) == [str(seeded[k]) for k in ("lead", "guest_fallback", "guest_faq")]
    lead = everything["conversations"][0]
    assert lead["user_email"] == "lead@example.com" and lead["messages"] == 4 and lead["funnel_stage"] == 2
    assert lead["scenarios"] == ["REGISTRATION"] and lead["fallbacks"] == 1
    assert everything["conversations"][2]["user_email"] is None and everything["conversations"][2]["fallbacks"] == 0

    async def only(**params: Any) -> list[str]:
        return ids(await get(client, "/admin/conversations", **params))

    assert await only(registered="true") == [str(seeded["lead"])]
    assert await only(registered="false") == [str(seeded["guest_fallback"]), str(seeded["guest_faq"])]
    assert await only(failed="true") == [str(seeded["lead"]), str(seeded["guest_fallback"])]
    assert await only(failed="false") == [str(seeded["guest_faq"])]
    assert await only(scenario="ANALYTICS") == [str(seeded["guest_fallback"])]
    assert await only(since=(NOW - timedelta(days=1)).isoformat()) == [
        str(seeded["lead"]),
        str(seeded["guest_fallback"]),
    ]
    assert await only(until=(NOW - timedelta(days=1)).isoformat()) == [str(seeded["guest_faq"])]
    # Case-insensitive search over any message's text; % and _ are literal, not wildcards.
    assert await only(q="СТОМАТОЛОГ") == [str(seeded["guest_fallback"])]
    assert await only(q="100%_") == [str(seeded["lead"])]
    assert await only(q="%") == [str(seeded["lead"])]
    assert await only(q="нет такого текста") == []
    assert await only(q="тариф", registered="false", failed="false") == [str(seeded["guest_faq"])]
    # The search picks conversations, not messages: a hit's counts are its whole conversation's.
    found = (await get(client, "/admin/conversations", q="аналитику"))["conversations"]
    assert [(c["id"], c["messages"], c["fallbacks"]) for c in found] == [(str(seeded["guest_fallback"]), 2, 1)]

    # Pages: limit/offset over the same order, with the total of the whole filtered list.
    pages = await asyncio.gather(*(get(client, "/admin/conversations", limit=1, offset=n) for n in range(4)))
    assert [p["total"] for p in pages] == [3] * 4
    assert [i for p in pages for i in ids(p)] == ids(everything)


async def test_transcript_has_each_turns_fields(client: httpx.AsyncClient, seeded: dict[str, uuid.UUID]) -> None:
    shown = await get(client, f"/admin/conversations/{seeded['guest_fallback']}")
    assert shown["id"] == str(seeded["guest_fallback"]) and shown["user_email"] is None
    question, answer = shown["messages"]
    assert question["role"] == "user" and question["text"] == "Покажи аналитику по стоматологиям"
    assert question["provider"] is None and question["scenario"] is None
    assert answer["role"] == "assistant" and answer["scenario"] == "ANALYTICS" and answer["action"] == "reply"
    assert answer["fallback"] is True and answer["fallback_reason"] == "model error: timeout"
    assert answer["provider"] == "offline" and answer["latency_ms"] == 123
    assert answer["sources"] == [{"id": "faq-1", "title": "Тарифы"}]
    assert answer["tool_calls"] == [{"name": "search_faq", "arguments": {"query": "цена"}}]
    assert datetime.fromisoformat(answer["created_at"]) > datetime.fromisoformat(question["created_at"])

    missing = await client.get(f"/admin/conversations/{uuid.uuid4()}", headers=TOKEN)
    assert missing.status_code == 404 and missing.json()["error_code"] == "CONVERSATION_NOT_FOUND"
    bad = await client.get("/admin/conversations/not-a-uuid", headers=TOKEN)
    assert bad.status_code == 422 and bad.json()["error_code"] == "VALIDATION_ERROR"


async def test_a_real_turn_is_listed_with_its_metadata(client: httpx.AsyncClient) -> None:
    reply = await client.post("/ai/chat", json={"message": "Привет! Сколько стоит подписка?"})
    assert reply.status_code == 200, reply.text
    client.cookies.clear()
    listing = await get(client, "/admin/conversations", q="подписка")
    assert listing["total"] == 1
    shown = await get(client, f"/admin/conversations/{listing['conversations'][0]['id']}")
    answer = shown["messages"][-1]
    assert answer["role"] == "assistant" and answer["scenario"] and answer["provider"]
    assert answer["latency_ms"] is not None and answer["fallback"] is not None


async def test_leads_and_their_csv(client: httpx.AsyncClient, admin_settings: Settings, seeded: dict[str, Any]) -> None:
    await register(client, "=formula@example.com")
    await register(client, "boss@example.com")
    make_superuser(admin_settings, "boss@example.com")  # operators are not leads

    listing = await get(client, "/admin/leads")
    assert listing["total"] == 2
    by_email = {lead["email"]: lead for lead in listing["leads"]}
    lead = by_email["lead@example.com"]
    assert lead["stage_reached"] == 2 and lead["trial_ends_at"]
    assert datetime.fromisoformat(lead["first_message_at"]) == NOW - timedelta(hours=1)
    assert datetime.fromisoformat(lead["last_message_at"]) == NOW - timedelta(hours=1) + timedelta(minutes=3)
    assert by_email["=formula@example.com"]["first_message_at"] is None
    page = await get(client, "/admin/leads", limit=1, offset=1)
    assert page["total"] == 2 and len(page["leads"]) == 1

    exported = await client.get("/admin/leads.csv", headers=TOKEN)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["email"] for r in rows) == ["'=formula@example.com", "lead@example.com"]
    row = next(r for r in rows if r["email"] == "lead@example.com")
    assert row["stage_reached"] == "2" and datetime.fromisoformat(row["first_message_at"]) == NOW - timedelta(hours=1)


async def test_csv_streams_every_lead_past_one_batch(client: httpx.AsyncClient, admin_settings: Settings) -> None:
    engine = create_engine(admin_settings.database_url_sync)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified, created_at)"
                    " SELECT gen_random_uuid(), 'bulk' || n || '@example.com', 'x', true, false, false,"
                    " now() - n * interval '1 second' FROM generate_series(1, 1234) AS n"
                )
            )
    finally:
        engine.dispose()
    exported = await client.get("/admin/leads.csv", headers=TOKEN)
    assert exported.status_code == 200
    emails = [r["email"] for r in csv.DictReader(io.StringIO(exported.text))]
    assert len(emails) == len(set(emails)) == 1234


async def test_funnel_per_day(client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    stats = await get(client, "/admin/stats/funnel", days=14)
    assert len(stats["days"]) == 14 and stats["days"][-1]["day"] == NOW.date().isoformat()
    today = stats["days"][-1]
    if (NOW - timedelta(hours=2)).date() == NOW.date():  # both of today's conversations fall on today
        assert today == {"day": today["day"], "visitors": 2, "stage1": 2, "stage2": 1, "registered": 1}
    old = next(d for d in stats["days"] if d["day"] == (NOW - timedelta(days=10)).date().isoformat())
    assert old["visitors"] == 1 and old["stage1"] == 0
    assert stats["assistant_turns"] == 4 and stats["fallback_rate"] == 0.5
    assert {s["scenario"]: (s["turns"], s["fallbacks"]) for s in stats["scenarios"]} == {
        "REGISTRATION": (2, 1),
        "ANALYTICS": (1, 1),
        "FAQ": (1, 0),
    }
    short = await get(client, "/admin/stats/funnel", days=1)
    assert len(short["days"]) == 1 and short["assistant_turns"] <= 3
    for days in ("0", "367", "x"):
        refused = await client.get("/admin/stats/funnel", params={"days": days}, headers=TOKEN)
        assert refused.status_code == 422 and refused.json()["error_code"] == "VALIDATION_ERROR"


async def test_bad_filters_are_clear_errors(client: httpx.AsyncClient) -> None:
    for params in (
        {"limit": "0"},
        {"limit": "201"},
        {"offset": "-1"},
        {"since": "yesterday"},
        {"since": "2026-11-30T10:00:00"},  # no time zone: ambiguous, refused
        {"q": ""},
        {"scenario": "faq; drop"},
        {"registered": "maybe"},
    ):
        refused = await client.get("/admin/conversations", params=params, headers=TOKEN)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["error_code"] == "VALIDATION_ERROR" and refused.json()["detail"]


async def test_every_console_endpoint_refuses_guests_and_non_superusers(
    app: FastAPI, client: httpx.AsyncClient, admin_settings: Settings
) -> None:
    visitor = await register(client, "visitor@example.com")
    boss = await register(client, "boss@example.com")
    make_superuser(admin_settings, "boss@example.com")
    for path in ENDPOINTS:
        guest = await client.get(path)
        assert guest.status_code == 401 and guest.json()["error_code"] == "NOT_AUTHENTICATED", path
        wrong = await client.get(path, headers={"X-Admin-Token": "wrong"})
        assert wrong.status_code == 403 and wrong.json()["error_code"] == "ADMIN_TOKEN_INVALID", path
        async with client_for(app) as http:
            http.cookies = visitor
            refused = await http.get(path)
        assert refused.status_code == 403 and refused.json()["error_code"] == "ADMIN_REQUIRED", path
        async with client_for(app) as http:
            http.cookies = boss
            allowed = await http.get(path)
        assert allowed.status_code == (404 if "conversations/" in path else 200), (path, allowed.text)
