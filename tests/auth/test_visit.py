"""Where a visitor came from: ``GET /auth/session`` takes the landing page, the referrer and the UTM
tags; the session keeps them in Redis until its row is stored with its first message (first touch:
a later call never replaces them), and the lead's outbox payload, the console's leads, their CSV and
the transcript carry them. Real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import ADMIN_TOKEN, client_for, derive_settings

TOKEN = {"X-Admin-Token": ADMIN_TOKEN}
SPRING = {
    "landing_page": "/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring",
    "referrer": "https://yandex.ru/search/?text=лиды",
    "utm_source": "yandex",
    "utm_medium": "cpc",
    "utm_campaign": "spring",
    "utm_term": "заявки для бизнеса",
    "utm_content": "ad-1",
}
AUTUMN = {"landing_page": "/?utm_source=vk", "utm_source": "vk", "utm_campaign": "autumn"}
VISIT_COLUMNS = tuple(SPRING)


def sql(settings: Settings, query: str, **params: Any) -> list[Any]:
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query), params).all())
    finally:
        engine.dispose()


def stored_visits(settings: Settings) -> list[dict[str, Any]]:
    rows = sql(settings, f"SELECT {', '.join(VISIT_COLUMNS)} FROM chat_sessions")  # noqa: S608 (constants)
    return [dict(row._mapping) for row in rows]


def given(visit: dict[str, str]) -> dict[str, str | None]:
    return {name: visit.get(name) for name in VISIT_COLUMNS}


def outbox(settings: Settings, kind: str) -> list[dict[str, Any]]:
    rows = sql(settings, "SELECT payload FROM lead_outbox WHERE kind = :kind", kind=kind)
    return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


async def say(http: httpx.AsyncClient, message: str) -> dict[str, Any]:
    response = await http.post("/ai/chat", json={"message": message})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def app_with(settings: Settings, tmp_path: Path, app_factory: Any) -> Any:
    values = derive_settings(settings, tmp_path, RATE_BURST_IP="10000/10 seconds", RATE_DAILY_IP="10000/day")
    return await app_factory(values), values


async def test_the_first_message_stores_the_visit_and_concurrent_first_actions_make_one_row(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app, values = await app_with(settings, tmp_path, app_factory)
    async with client_for(app) as http:
        opened = await http.get("/auth/session", params=SPRING)
        assert opened.status_code == 200 and opened.json()["renewed"] is True
        assert stored_visits(values) == []  # Redis only until the visitor says something
        # Two turns (one waits for the other's lock, or is refused) and a speech request that takes no
        # turn lock: all three may create the row at once.
        results = await asyncio.gather(
            http.post("/ai/chat", json={"message": "Сколько стоит подключение?"}),
            http.post("/ai/chat", json={"message": "Как вы ищете клиентов?"}),
            http.post("/ai/tts", json={"text": "Здравствуйте!", "format": "mp3"}),
        )
        assert [r.status_code for r in results][:2].count(200) >= 1, [r.text for r in results]
        assert {r.status_code for r in results} <= {200, 202, 409}, [r.text for r in results]
    assert stored_visits(values) == [given(SPRING)]


async def test_a_later_call_never_replaces_the_visit(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app, values = await app_with(settings, tmp_path, app_factory)
    async with client_for(app) as http:
        assert (await http.get("/auth/session", params=SPRING)).status_code == 200
        again = await http.get("/auth/session", params=AUTUMN)  # a second tab, another ad: the same session
        assert again.status_code == 200 and again.json()["renewed"] is False
        await say(http, "позовите менеджера")  # the first message is a handoff: the team gets the visit too
        assert (await http.get("/auth/session", params=AUTUMN)).status_code == 200
        await say(http, "алло")
    assert stored_visits(values) == [given(SPRING)]
    (handoff,) = outbox(values, "handoff")
    assert handoff["visit"] == given(SPRING)

    async with client_for(app) as plain:  # no tags: a row with empty visit columns
        assert (await plain.get("/auth/session")).status_code == 200
        await say(plain, "привет")
    assert given({}) in stored_visits(values)


async def test_bad_values_are_refused_in_the_error_shape(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app, values = await app_with(settings, tmp_path, app_factory)
    async with client_for(app) as http:
        for params in (
            {"utm_source": "x" * 201},
            {"utm_campaign": "весна\x01"},
            {"utm_term": "a\x00b"},
            {"landing_page": "/" + "p" * 1000},
            {"landing_page": "javascript:alert(1)"},
            {"landing_page": "//evil.example/"},
            {"referrer": "/relative"},
            {"referrer": "https://" + "r" * 1000 + ".example/"},
        ):
            refused = await http.get("/auth/session", params=params)
            assert refused.status_code == 422, (params, refused.text)
            body = refused.json()
            assert body["error_code"] == "VALIDATION_ERROR" and body["detail"], body
            assert "sessionid" not in refused.cookies, params
        # Blank values are "not given", the limits are inclusive, unknown parameters are ignored.
        opened = await http.get(
            "/auth/session",
            params={"utm_source": "s" * 200, "utm_medium": " ", "landing_page": "https://shop.example/p?a=1", "x": "y"},
        )
        assert opened.status_code == 200, opened.text
        await say(http, "привет")
    (stored,) = stored_visits(values)
    assert stored == given({"utm_source": "s" * 200, "landing_page": "https://shop.example/p?a=1"})


async def test_the_lead_carries_its_first_conversations_visit(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app, values = await app_with(settings, tmp_path, app_factory)
    email = "spring-lead@example.com"
    async with client_for(app) as http:
        assert (await http.get("/auth/session", params=SPRING)).status_code == 200
        await say(http, f"хочу зарегистрироваться, моя почта {email}")
        code = latest_outbox_code(values, email)
        assert code is not None
        assert (await say(http, code))["action"] == "ask_city"
        assert (await say(http, "Казань, стоматология"))["action"] == "registered"
    (registration,) = outbox(values, "registration")
    assert registration["source"] == "chat" and registration["visit"] == given(SPRING)

    # The same account signs in later from another ad, before saying anything (the new session id
    # keeps the visit until the first message stores it): its lead still shows where it came first.
    async with client_for(app) as later:
        assert (await later.get("/auth/session", params=AUTUMN)).status_code == 200
        assert (await later.post("/auth/request-code", json={"email": email})).status_code == 202
        code = latest_outbox_code(values, email)
        assert code is not None
        login = await later.post("/auth/jwt/login_custom", json={"email": email, "code": code})
        assert login.status_code == 200, login.text
        await say(later, "Сколько стоит подключение?")
    assert sorted(v["utm_campaign"] for v in stored_visits(values)) == ["autumn", "spring"]

    async with client_for(app) as admin:
        leads = (await admin.get("/admin/leads", headers=TOKEN)).json()["leads"]
        (lead,) = [lead for lead in leads if lead["email"] == email]
        assert lead["visit"] == given(SPRING)

        exported = await admin.get("/admin/leads.csv", headers=TOKEN)
        (row,) = [r for r in csv.DictReader(io.StringIO(exported.text)) if r["email"] == email]
        assert {name: row[name] for name in VISIT_COLUMNS} == SPRING

        listing = (await admin.get("/admin/conversations", headers=TOKEN)).json()["conversations"]
        shown = [(await admin.get(f"/admin/conversations/{c['id']}", headers=TOKEN)).json() for c in listing]
        assert sorted(t["visit"]["utm_campaign"] for t in shown) == ["autumn", "spring"]
        assert given(SPRING) in [t["visit"] for t in shown]
