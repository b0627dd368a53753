"""``/admin/users…`` on real PostgreSQL and Redis: superusers (JWT cookie) and scripts (X-Admin-Token)
list, show, grant, revoke and erase; everyone else gets 401/403 in the error shape. After an erasure
no row, no media file and no live session state of the account remains, and other accounts' do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from admin.support import PASSWORD, account_with_data, make_superuser, redis_states_naming, rows_of
from fastapi import FastAPI

from backend.core.config import Settings
from helpers import ADMIN_TOKEN, client_for

TOKEN = {"X-Admin-Token": ADMIN_TOKEN}


async def as_user(app: FastAPI, cookies: httpx.Cookies, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request with a signed-in account's cookies (a client of its own, as a browser would be)."""
    async with client_for(app) as http:
        http.cookies = cookies
        return await http.request(method, path, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code and response.json()["detail"]


def days_from_now(value: str) -> float:
    return (datetime.fromisoformat(value) - datetime.now(UTC)) / timedelta(days=1)


async def test_grant_revoke_and_show_with_the_admin_token(
    app: FastAPI, client: httpx.AsyncClient, admin_settings: Settings
) -> None:
    alice = await account_with_data(client, admin_settings, "alice@example.com")
    listing = await client.get("/admin/users", headers=TOKEN)
    assert listing.status_code == 200, listing.text
    assert listing.json()["total"] == 1 and listing.json()["users"][0]["email"] == "alice@example.com"

    shown = (await client.get("/admin/users/ALICE@example.com", headers=TOKEN)).json()
    assert shown["messages"] >= 4 and shown["sessions"] >= 1 and shown["audio_files"] == 2 * shown["sessions"]
    # Every sign-up starts the trial: access, but no subscription yet.
    assert shown["has_access"] is True and shown["subscription_ends_at"] is None and shown["trial_ends_at"]

    granted = await client.post("/admin/users/alice@example.com/grant", json={"days": 30}, headers=TOKEN)
    assert granted.status_code == 200, granted.text
    assert granted.json()["has_access"] is True
    assert 29.9 < days_from_now(granted.json()["subscription_ends_at"]) <= 30
    me = await as_user(app, alice.cookies, "GET", "/auth/users/me")
    assert me.json()["has_access"] is True

    # Grants at once add up (the row is locked), they do not overwrite each other.
    many = await asyncio.gather(
        *(client.post("/admin/users/alice@example.com/grant", json={"days": 10}, headers=TOKEN) for _ in range(5))
    )
    assert [r.status_code for r in many] == [200] * 5
    shown = (await client.get("/admin/users/alice@example.com", headers=TOKEN)).json()
    assert 79.9 < days_from_now(shown["subscription_ends_at"]) <= 80

    revoked = await client.post("/admin/users/alice@example.com/revoke", headers=TOKEN)
    assert revoked.status_code == 200 and revoked.json()["has_access"] is False
    assert (await as_user(app, alice.cookies, "GET", "/auth/users/me")).json()["has_access"] is False

    assert_error(
        await client.post("/admin/users/alice@example.com/grant", json={"days": 0}, headers=TOKEN),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(await client.get("/admin/users/nobody@example.com", headers=TOKEN), 404, "USER_NOT_FOUND")
    assert_error(await client.delete("/admin/users/nobody@example.com", headers=TOKEN), 404, "USER_NOT_FOUND")


async def test_delete_erases_rows_media_and_sessions_of_that_account_only(
    app: FastAPI, client: httpx.AsyncClient, admin_settings: Settings
) -> None:
    alice = await account_with_data(client, admin_settings, "alice@example.com")
    bob = await account_with_data(client, admin_settings, "bob@example.com", chats=1)
    assert all(path.is_file() for path in alice.files) and redis_states_naming(admin_settings, alice.sessions) >= 1
    before = rows_of(admin_settings, alice)

    erased = await client.delete("/admin/users/alice@example.com", headers=TOKEN)
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["email"] == "alice@example.com"
    assert report["sessions"] == before["chat_sessions"] and report["messages"] == before["messages"]
    assert report["funnel_events"] == before["funnel_events"] and report["audio_events"] == before["audio_events"]
    assert report["media_files"] == len(alice.files) and report["media_missing"] == 0
    assert report["redis_sessions"] >= 1
    assert report["lead_events"] == before["lead_outbox"] >= 1  # the sign-up's lead carries the contact

    assert rows_of(admin_settings, alice) == dict.fromkeys(before, 0)
    assert not any(path.exists() for path in alice.files)
    assert redis_states_naming(admin_settings, alice.sessions) == 0
    assert (await as_user(app, alice.cookies, "GET", "/auth/users/me")).status_code == 401
    # Bob keeps everything.
    assert all(path.is_file() for path in bob.files)
    assert all(count > 0 for count in rows_of(admin_settings, bob).values())
    assert (await as_user(app, bob.cookies, "GET", "/auth/users/me")).status_code == 200

    # The e-mail is free again: a new sign-up is a new, empty account.
    again = await client.post("/auth/register", json={"email": "alice@example.com", "password": PASSWORD})
    assert again.status_code == 201 and again.json()["id"] != str(alice.user_id)


async def test_concurrent_erasures_one_succeeds_the_other_finds_nothing(
    client: httpx.AsyncClient, admin_settings: Settings
) -> None:
    alice = await account_with_data(client, admin_settings, "alice@example.com", chats=1)
    answers = await asyncio.gather(*(client.delete("/admin/users/alice@example.com", headers=TOKEN) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 404, 404], [a.text for a in answers]
    assert rows_of(admin_settings, alice)["users"] == 0 and not any(p.exists() for p in alice.files)


async def test_superuser_cookie_is_allowed_and_everyone_else_is_refused(
    app: FastAPI, client: httpx.AsyncClient, admin_settings: Settings
) -> None:
    root = await account_with_data(client, admin_settings, "root@example.com", chats=0)
    bob = await account_with_data(client, admin_settings, "bob@example.com", chats=0)

    assert_error(await client.get("/admin/users"), 401, "NOT_AUTHENTICATED")
    for method, path in (
        ("GET", "/admin/users"),
        ("GET", "/admin/users/bob@example.com"),
        ("DELETE", "/admin/users/root@example.com"),
    ):
        refused = await as_user(app, bob.cookies, method, path)
        assert_error(refused, 403, "ADMIN_REQUIRED")
    granted = await as_user(app, bob.cookies, "POST", "/admin/users/bob@example.com/grant", json={"days": 5})
    assert_error(granted, 403, "ADMIN_REQUIRED")
    assert_error(await client.get("/admin/users", headers={"X-Admin-Token": "wrong"}), 403, "ADMIN_TOKEN_INVALID")
    assert_error(
        await as_user(app, root.cookies, "GET", "/admin/users", headers={"X-Admin-Token": "wrong"}),
        403,
        "ADMIN_TOKEN_INVALID",
    )

    make_superuser(admin_settings, "root@example.com")
    listing = await as_user(app, root.cookies, "GET", "/admin/users")
    assert listing.status_code == 200 and listing.json()["total"] == 2
    grant = await as_user(app, root.cookies, "POST", "/admin/users/bob@example.com/grant", json={"days": 5})
    assert grant.status_code == 200 and grant.json()["has_access"] is True
    assert (await as_user(app, root.cookies, "DELETE", "/admin/users/bob@example.com")).status_code == 200
    assert rows_of(admin_settings, bob)["users"] == 0
