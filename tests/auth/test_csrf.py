from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.core.config import Settings
from helpers import client_for, derive_settings


async def test_csrf_double_submit_accepts_and_rejects(tmp_path: Path, settings: Settings, app_factory: Any) -> None:
    csrf = derive_settings(settings, tmp_path, CSRF_ENABLED=True)
    app = await app_factory(csrf)
    async with client_for(app) as http:
        first = await http.get("/auth/session")  # any response hands out the csrftoken cookie
        token = first.cookies["csrftoken"]
        assert "httponly" not in first.headers["set-cookie"].lower().split("csrftoken")[1].split(",")[0]

        rejected = await http.post("/auth/jwt/logout")
        assert rejected.status_code == 403
        assert rejected.json()["error_code"] == "CSRF_FAILED"

        forged = await http.post("/auth/jwt/logout", headers={"x-csrftoken": token[:-2] + "xx"})
        assert forged.status_code == 403

        accepted = await http.post("/auth/jwt/logout", headers={"x-csrftoken": token})
        assert accepted.status_code == 200


async def test_csrf_does_not_block_cookieless_api_clients(tmp_path: Path, settings: Settings, app_factory: Any) -> None:
    csrf = derive_settings(settings, tmp_path, CSRF_ENABLED=True)
    app = await app_factory(csrf)
    async with client_for(app) as http:
        response = await http.post("/auth/register", json={"email": "api@example.com", "password": "long enough pw"})
        assert response.status_code == 201
