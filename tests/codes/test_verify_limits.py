"""POST /api/verify-code is limited per client IP and per contact (429, Retry-After, error shape),
in the main app and in the standalone code service; a refused attempt compares nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.codes.app import create_code_app
from backend.core.config import Settings
from backend.main import create_app
from helpers import ADMIN_TOKEN, client_for, derive_settings

ADMIN = {"X-Admin-Token": ADMIN_TOKEN}


def ip(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.{n}"}


async def issue(http: httpx.AsyncClient, contact: str) -> str:
    response = await http.post("/api/generate-code", json={"contact": contact}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


def assert_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error_code"] == "CODE_VERIFY_LIMIT"
    assert body["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 600
    assert body["retry_after"] == retry_after
    return retry_after


@pytest.mark.parametrize("factory", [create_app, create_code_app], ids=["api", "standalone"])
async def test_verify_is_limited_per_ip(settings: Settings, tmp_path: Path, app_factory: Any, factory: Any) -> None:
    values = derive_settings(settings, tmp_path, RATE_VERIFY_CODE_IP="3/10 minutes", TRUSTED_PROXIES="127.0.0.1")
    app = await app_factory(values, factory)
    async with client_for(app) as http:
        contacts = [f"c{n}@example.com" for n in range(4)]
        for contact in contacts:
            await issue(http, contact)
        answers = [
            await http.post("/api/verify-code", json={"contact": c, "code": "000000"}, headers=ip(7)) for c in contacts
        ]
        other_ip = await http.post("/api/verify-code", json={"contact": contacts[3], "code": "000000"}, headers=ip(8))
    assert [a.status_code for a in answers[:3]] == [400, 400, 400]
    assert_limited(answers[3])
    assert other_ip.status_code == 400  # another address is not limited ...
    assert other_ip.json()["attempts_left"] == 4  # ... and the refused attempt compared nothing


@pytest.mark.parametrize("factory", [create_app, create_code_app], ids=["api", "standalone"])
async def test_verify_is_limited_per_contact(
    settings: Settings, tmp_path: Path, app_factory: Any, factory: Any
) -> None:
    values = derive_settings(
        settings, tmp_path, RATE_VERIFY_CODE_CONTACT="3/10 minutes", CODE_MAX_PER_HOUR=10, TRUSTED_PROXIES="127.0.0.1"
    )
    app = await app_factory(values, factory)
    async with client_for(app) as http:
        await issue(http, "victim@example.com")
        for n in range(3):  # three addresses, one contact
            response = await http.post(
                "/api/verify-code", json={"contact": "victim@example.com", "code": "000000"}, headers=ip(n)
            )
            assert response.status_code == 400
        code = await issue(http, "victim@example.com")
        refused = await http.post(
            "/api/verify-code", json={"contact": "victim@example.com", "code": code}, headers=ip(9)
        )
        assert_limited(refused)
        other = await issue(http, "other@example.com")
        fine = await http.post("/api/verify-code", json={"contact": "other@example.com", "code": other}, headers=ip(9))
    assert fine.status_code == 200
