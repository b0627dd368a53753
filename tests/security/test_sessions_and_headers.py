"""Session fixation, cookie flags in production, CSRF, CORS and the admin token.

Already covered elsewhere and not repeated: a new sessionid on password login
(tests/auth/test_auth_flow.py::test_login_issues_a_new_session_id), the CSRF double-submit on logout
(tests/auth/test_csrf.py), 401/403 for a missing or wrong admin token
(tests/codes/test_codes.py::test_admin_token_is_required)."""

from __future__ import annotations

import inspect
import secrets
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from backend.auth.mailer import latest_outbox_code
from backend.codes import dependencies as code_dependencies
from backend.core.config import Settings
from backend.metrics import router as metrics_router
from helpers import client_for, derive_settings, set_cookies

PASSWORD = "correct horse battery"


async def session_exists(settings: Settings, sid: str) -> bool:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        return bool(await client.exists(f"leadinc:session:{sid}"))
    finally:
        await client.aclose()


async def test_funnel_registration_rotates_the_session_id(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    values = derive_settings(settings, tmp_path)
    app = await app_factory(values)
    async with client_for(app) as http:
        await http.post("/ai/chat", json={"message": "хочу зарегистрироваться"})
        guest_sid = http.cookies["sessionid"]
        await http.post("/ai/chat", json={"message": "fixation@example.com"})
        code = latest_outbox_code(values, "fixation@example.com")
        await http.post("/ai/chat", json={"message": str(code)})
        assert http.cookies["sessionid"] == guest_sid  # no privilege change yet
        done = await http.post("/ai/chat", json={"message": "Казань, натяжные потолки"})
        assert done.json()["action"] == "registered", done.text
        user_sid = set_cookies(done)["sessionid"].value
        assert user_sid and user_sid != guest_sid
        assert not await session_exists(values, guest_sid)  # the old id is dead, not merely replaced

    async with client_for(app) as attacker:  # whoever planted or sniffed the guest id gets nothing
        attacker.cookies.set("sessionid", guest_sid)
        stolen = await attacker.get("/auth/session")
        assert stolen.json()["user_id"] is None
        assert stolen.cookies["sessionid"] != guest_sid


async def test_a_planted_session_id_is_never_adopted(client: httpx.AsyncClient, settings: Settings) -> None:
    planted = "attacker-chosen-session-id-0123456789abcdef"
    client.cookies.set("sessionid", planted)
    response = await client.post("/ai/chat", json={"message": "привет"})
    assert response.status_code == 200
    issued = set_cookies(response)["sessionid"].value
    assert issued != planted and not await session_exists(settings, planted)
    created = await client.post("/auth/register", json={"email": "planted@example.com", "password": PASSWORD})
    assert created.status_code == 201
    login = await client.post("/auth/jwt/login_custom", json={"email": "planted@example.com", "password": PASSWORD})
    assert set_cookies(login)["sessionid"].value not in (planted, issued)
    assert not await session_exists(settings, issued)


async def test_production_cookie_flags(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    production = derive_settings(
        settings,
        tmp_path,
        ENVIRONMENT="production",
        SECRET=secrets.token_urlsafe(48),
        SECRET_ADMIN_TOKEN=secrets.token_urlsafe(32),
        CSRF_ENABLED=True,
    )
    assert production.cookie_secure
    app = await app_factory(production)
    async with client_for(app) as http:
        first = await http.get("/auth/session")
        csrf = first.cookies["csrftoken"]
        created = await http.post(
            "/auth/register", json={"email": "prod@example.com", "password": PASSWORD}, headers={"x-csrftoken": csrf}
        )
        assert created.status_code == 201, created.text
        login = await http.post(
            "/auth/jwt/login_custom",
            json={"email": "prod@example.com", "password": PASSWORD},
            headers={"x-csrftoken": csrf},
        )
    assert login.status_code == 200, login.text
    cookies = set_cookies(first) | set_cookies(login)
    for name in ("sessionid", "fastapiusersauth"):
        assert cookies[name]["secure"] is True, name
        assert cookies[name]["httponly"] is True, name
        assert cookies[name]["samesite"].lower() == "lax", name
    assert cookies["csrftoken"]["secure"] is True and cookies["csrftoken"]["samesite"].lower() == "lax"
    assert not cookies["csrftoken"]["httponly"]  # the page must read it to echo it back


async def test_csrf_rejects_cookie_bearing_posts_without_the_token(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, CSRF_ENABLED=True))
    async with client_for(app) as http:
        token = (await http.get("/auth/session")).cookies["csrftoken"]
        for headers in ({}, {"x-csrftoken": "forged"}, {"x-csrftoken": ""}):
            refused = await http.post("/ai/chat", json={"message": "привет"}, headers=headers)
            assert refused.status_code == 403 and refused.json()["error_code"] == "CSRF_FAILED", headers
        other = await http.post("/ai/chat", json={"message": "привет"}, headers={"x-csrftoken": token + "x"})
        assert other.status_code == 403
        accepted = await http.post("/ai/chat", json={"message": "привет"}, headers={"x-csrftoken": token})
        assert accepted.status_code == 200


async def test_cors_answers_only_the_allowed_origin(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    allowed, evil = "https://shop.example.com", "https://evil.example.net"
    app = await app_factory(derive_settings(settings, tmp_path, CORS_ORIGINS=allowed))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    async with client_for(app) as http:
        ok = await http.options("/ai/chat", headers={"Origin": allowed, **preflight})
        bad = await http.options("/ai/chat", headers={"Origin": evil, **preflight})
        simple_ok = await http.get("/health", headers={"Origin": allowed})
        simple_bad = await http.get("/health", headers={"Origin": evil})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == allowed
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in bad.headers and bad.status_code == 400
    assert simple_ok.headers["access-control-allow-origin"] == allowed
    assert "access-control-allow-origin" not in simple_bad.headers


def test_tokens_are_compared_in_constant_time() -> None:
    for source in (inspect.getsource(code_dependencies.require_admin_token), inspect.getsource(metrics_router)):
        assert "compare_digest(" in source
        assert "== settings.SECRET_ADMIN_TOKEN" not in source and "!= settings.SECRET_ADMIN_TOKEN" not in source


async def test_admin_token_variants_are_refused(client: httpx.AsyncClient) -> None:
    from helpers import ADMIN_TOKEN

    body = {"contact": "x@example.com"}
    cases = {
        "": 401,
        ADMIN_TOKEN[:-1]: 403,  # a prefix
        ADMIN_TOKEN + "x": 403,  # a longer string
        ADMIN_TOKEN.upper(): 403,
        " " + ADMIN_TOKEN: 403,
    }
    for token, status in cases.items():
        response = await client.post("/api/generate-code", json=body, headers={"X-Admin-Token": token})
        assert response.status_code == status, (token, response.text)
        assert "code" not in response.json()
    in_query = await client.post(f"/api/generate-code?X-Admin-Token={ADMIN_TOKEN}", json=body)
    assert in_query.status_code == 401
