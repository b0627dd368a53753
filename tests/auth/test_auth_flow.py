"""register → login → me → logout over HTTP, with the cookie flags of SPEC section 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from backend.core.config import Settings
from helpers import client_for, derive_settings, set_cookies

PASSWORD = "correct horse battery"


async def register_and_login(client: httpx.AsyncClient, email: str = "anna@example.com") -> httpx.Response:
    created = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return await client.post("/auth/jwt/login_custom", json={"email": email, "password": PASSWORD})


async def test_full_flow_with_cookie_flags(client: httpx.AsyncClient) -> None:
    assert (await client.get("/auth/users/me")).json() == {
        "is_authenticated": False,
        "error_code": "NOT_AUTHENTICATED",
        "detail": "Вы не вошли в аккаунт.",
    }
    login = await register_and_login(client)
    assert login.status_code == 200, login.text
    cookies = set_cookies(login)
    auth, session = cookies["fastapiusersauth"], cookies["sessionid"]
    assert int(auth["max-age"]) == 7 * 24 * 3600
    assert int(session["max-age"]) == 12 * 3600
    for morsel in (auth, session):
        assert morsel["httponly"] is True
        assert morsel["secure"] is True  # DEBUG is off
        assert morsel["samesite"].lower() == "lax"

    me = await client.get("/auth/users/me")
    assert me.status_code == 200
    body = me.json()
    assert body["is_authenticated"] is True
    assert body["email"] == body["login"] == "anna@example.com"
    assert body["has_access"] is True and body["trial_ends_at"]  # password sign-up opens the trial

    logout = await client.post("/auth/jwt/logout")
    assert logout.status_code == 200
    cleared = set_cookies(logout)
    assert cleared["fastapiusersauth"].value == "" and int(cleared["fastapiusersauth"]["max-age"]) == 0
    assert cleared["sessionid"].value == "" and int(cleared["sessionid"]["max-age"]) == 0
    assert (await client.get("/auth/users/me")).status_code == 401


async def test_logout_clears_redis_session_state(client: httpx.AsyncClient, settings: Settings) -> None:
    import redis.asyncio as aioredis

    login = await register_and_login(client)
    sid = login.cookies["sessionid"]
    redis = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        assert await redis.exists(f"leadinc:session:{sid}") == 1
        await client.post("/auth/jwt/logout")
        assert await redis.exists(f"leadinc:session:{sid}") == 0
    finally:
        await redis.aclose()


async def test_debug_mode_drops_secure_and_samesite_is_configurable(
    tmp_path: Path, settings: Settings, app_factory: Any
) -> None:
    debug = derive_settings(
        settings,
        tmp_path,
        DEBUG=True,
        COOKIE_SAMESITE="strict",
    )
    app = await app_factory(debug)
    async with client_for(app, "http://testserver") as http:
        login = await register_and_login(http, "debug@example.com")
    cookies = set_cookies(login)
    assert cookies["fastapiusersauth"]["secure"] == ""
    assert cookies["sessionid"]["samesite"].lower() == "strict"


async def test_duplicate_registration_and_bad_password(client: httpx.AsyncClient) -> None:
    await register_and_login(client)
    again = await client.post("/auth/register", json={"email": "anna@example.com", "password": PASSWORD})
    assert again.status_code == 409
    assert again.json()["error_code"] == "USER_ALREADY_EXISTS"
    wrong = await client.post("/auth/jwt/login_custom", json={"email": "anna@example.com", "password": "nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error_code"] == "INVALID_CREDENTIALS"
    assert "fastapiusersauth" not in set_cookies(wrong)


async def test_login_requires_exactly_one_secret(client: httpx.AsyncClient) -> None:
    both = await client.post(
        "/auth/jwt/login_custom", json={"email": "a@example.com", "password": "x", "code": "123456"}
    )
    assert both.status_code == 422
    assert both.json()["error_code"] == "VALIDATION_ERROR"


async def test_login_issues_a_new_session_id(client: httpx.AsyncClient) -> None:
    guest = await client.get("/auth/session")
    guest_sid = guest.cookies["sessionid"]
    login = await register_and_login(client)
    assert login.cookies["sessionid"] != guest_sid


async def test_live_jwt_with_expired_session_gets_a_new_session(client: httpx.AsyncClient, settings: Settings) -> None:
    import redis.asyncio as aioredis

    login = await register_and_login(client)
    old_sid = login.cookies["sessionid"]
    user_id = (await client.get("/auth/users/me")).json()["id"]
    redis = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        await redis.delete(f"leadinc:session:{old_sid}")  # the 12 h state expired; the 7 d JWT did not
    finally:
        await redis.aclose()
    renewed = await client.get("/auth/session")
    assert renewed.status_code == 200
    assert renewed.json() == {"user_id": user_id, "renewed": True}
    new_sid = renewed.cookies["sessionid"]
    assert new_sid and new_sid != old_sid
    again = await client.get("/auth/session")
    assert again.json() == {"user_id": user_id, "renewed": False}
