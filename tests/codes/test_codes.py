from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.codes.app import create_code_app
from backend.core.config import Settings
from helpers import ADMIN_TOKEN, client_for, derive_settings

ADMIN = {"X-Admin-Token": ADMIN_TOKEN}


async def issue(client: httpx.AsyncClient, contact: str = "lead@example.com") -> str:
    response = await client.post("/api/generate-code", json={"contact": contact}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert re.fullmatch(r"\d{6}", body["code"])
    assert body["expires_in"] == 600
    return str(body["code"])


async def verify(client: httpx.AsyncClient, code: str, contact: str = "lead@example.com") -> httpx.Response:
    return await client.post("/api/verify-code", json={"contact": contact, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_admin_token_is_required(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/generate-code", json={"contact": "x@example.com"})
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "ADMIN_TOKEN_REQUIRED"
    bad = await client.post("/api/generate-code", json={"contact": "x@example.com"}, headers={"X-Admin-Token": "no"})
    assert bad.status_code == 403
    assert bad.json()["error_code"] == "ADMIN_TOKEN_INVALID"


async def test_right_code_verifies_once_then_is_burnt(client: httpx.AsyncClient) -> None:
    code = await issue(client)
    assert (await verify(client, code)).status_code == 200
    again = await verify(client, code)
    assert again.status_code == 400
    assert again.json()["error_code"] == "CODE_EXPIRED"


async def test_contact_is_case_and_space_insensitive(client: httpx.AsyncClient) -> None:
    code = await issue(client, "Lead@Example.com ")
    assert (await verify(client, code, "lead@example.com")).status_code == 200


async def test_new_code_replaces_old(client: httpx.AsyncClient) -> None:
    first = await issue(client)
    second = await issue(client)
    if first != second:
        assert (await verify(client, first)).json()["error_code"] == "CODE_INVALID"
    assert (await verify(client, second)).status_code == 200


async def test_five_wrong_attempts_burn_the_code(client: httpx.AsyncClient) -> None:
    code = await issue(client)
    for left in (4, 3, 2, 1):
        response = await verify(client, wrong(code))
        assert response.status_code == 400
        assert response.json()["error_code"] == "CODE_INVALID"
        assert response.json()["attempts_left"] == left
    fifth = await verify(client, wrong(code))
    assert fifth.json()["error_code"] == "CODE_ATTEMPTS_EXCEEDED"
    assert (await verify(client, code)).json()["error_code"] == "CODE_EXPIRED"


async def test_at_most_five_codes_per_hour_per_contact(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        await issue(client)
    sixth = await client.post("/api/generate-code", json={"contact": "lead@example.com"}, headers=ADMIN)
    assert sixth.status_code == 429
    assert sixth.json()["error_code"] == "CODE_LIMIT_EXCEEDED"
    assert 0 < int(sixth.headers["Retry-After"]) <= 3600
    await issue(client, "other@example.com")  # another contact is unaffected


async def test_code_expires_after_ttl(tmp_path: Path, settings: Settings, app_factory: Any) -> None:
    short = derive_settings(settings, tmp_path, CODE_TTL_SECONDS=1)
    app = await app_factory(short)
    async with client_for(app) as http:
        response = await http.post("/api/generate-code", json={"contact": "ttl@example.com"}, headers=ADMIN)
        assert response.json()["expires_in"] == 1
        await asyncio.sleep(1.6)
        expired = await verify(http, response.json()["code"], "ttl@example.com")
    assert expired.json()["error_code"] == "CODE_EXPIRED"


async def test_codes_never_reach_the_logs(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    code = await issue(client)
    await verify(client, wrong(code))
    await verify(client, code)
    assert code not in caplog.text


async def test_standalone_code_service(settings: Settings, app_factory: Any) -> None:
    app = await app_factory(settings, create_code_app)
    async with client_for(app) as http:
        code = await issue(http, "solo@example.com")
        assert (await verify(http, code, "solo@example.com")).status_code == 200
        assert (await http.get("/auth/users/me")).status_code == 404
