"""POST /auth/request-code: a login code by e-mail for API clients, the same answer whether or not
the account exists, limited per contact and per IP (429 in the error shape with Retry-After).

Real PostgreSQL, Redis and the development outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import client_for, derive_settings

PASSWORD = "a-long-password-1"


async def test_same_answer_for_known_and_unknown_and_the_code_signs_in(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app_settings = derive_settings(settings, tmp_path)
    app = await app_factory(app_settings)
    async with client_for(app) as http:
        assert (
            await http.post("/auth/register", json={"email": "api@example.com", "password": PASSWORD})
        ).status_code == 201
    async with client_for(app) as http:
        known = await http.post("/auth/request-code", json={"email": "API@example.com"})
        unknown = await http.post("/auth/request-code", json={"email": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json() and known.json()["ok"] is True
        assert latest_outbox_code(app_settings, "nobody@example.com") is None
        code = latest_outbox_code(app_settings, "api@example.com")
        assert code is not None
        login = await http.post("/auth/jwt/login_custom", json={"email": "api@example.com", "code": code})
        assert login.status_code == 200 and "fastapiusersauth" in login.cookies, login.text
        again = await http.post("/auth/jwt/login_custom", json={"email": "api@example.com", "code": code})
        assert again.status_code == 400 and again.json()["error_code"] == "CODE_EXPIRED"  # burnt


async def test_per_contact_limit_is_the_same_for_every_contact_under_concurrency(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_REQUEST_CODE_CONTACT="2/10 minutes"))
    async with client_for(app) as http:
        await http.post("/auth/register", json={"email": "busy@example.com", "password": PASSWORD})
        for email in ("busy@example.com", "ghost@example.com"):
            answers = await asyncio.gather(*(http.post("/auth/request-code", json={"email": email}) for _ in range(10)))
            statuses = sorted(r.status_code for r in answers)
            assert statuses == [202] * 2 + [429] * 8, (email, statuses)
            refused = next(r for r in answers if r.status_code == 429)
            assert refused.json()["error_code"] == "CODE_REQUEST_LIMIT" and refused.json()["detail"]
            assert {"error_code", "detail"} <= set(refused.json())
            assert 0 < int(refused.headers["Retry-After"]) <= 600


async def test_per_ip_limit_spans_contacts(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_REQUEST_CODE_IP="3/hour"))
    async with client_for(app) as http:
        statuses = [
            (await http.post("/auth/request-code", json={"email": f"u{n}@example.com"})).status_code for n in range(5)
        ]
        bad = await http.post("/auth/request-code", json={"email": "not-an-email"})
    assert statuses == [202, 202, 202, 429, 429]
    assert bad.status_code == 422 and {"error_code", "detail"} <= set(bad.json())
