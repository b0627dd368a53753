"""A whole scenario with every log record captured to a file at DEBUG and the error journal on its own
path: registration through the funnel with a one-time code, a login with a second code, the JWT
cookie in use, the admin-token call, some failures. Then grep both files: no code, JWT, session id,
admin token or SECRET may appear."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

import httpx

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import client_for, derive_settings


class EverythingFormatter(logging.Formatter):
    """Every attribute of the record (message, args, extra fields, exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{super().format(record)} {record.__dict__!r}"


async def test_no_secret_reaches_the_logs_or_the_journal(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    secret, admin_token = secrets.token_urlsafe(40), secrets.token_urlsafe(24)
    journal, log_file = tmp_path / "journal.jsonl", tmp_path / "all.log"
    values = derive_settings(
        settings,
        tmp_path,
        SECRET=secret,
        SECRET_ADMIN_TOKEN=admin_token,
        ERROR_JOURNAL_PATH=journal,
        LOG_LEVEL="DEBUG",
        RATE_BURST="100/10 seconds",
    )
    app = await app_factory(values)  # configure_logging ran: add a catch-all file handler beside its own
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(EverythingFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    email = "logs@example.com"
    seen: set[str] = set()

    def keep(response: httpx.Response) -> httpx.Response:
        seen.update(v for k, v in response.cookies.items() if k != "csrftoken")
        return response

    try:
        async with client_for(app) as http:
            keep(await http.post("/ai/chat", json={"message": "хочу зарегистрироваться"}))
            keep(await http.post("/ai/chat", json={"message": email}))
            code = str(latest_outbox_code(values, email))
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            keep(await http.post("/ai/chat", json={"message": wrong}))
            keep(await http.post("/ai/chat", json={"message": code}))
            done = keep(await http.post("/ai/chat", json={"message": "Казань, натяжные потолки"}))
            assert done.json()["action"] == "registered", done.text
            keep(await http.post("/ai/chat", json={"message": "да"}))  # analytics with the JWT cookie
            assert (await http.get("/auth/users/me")).json()["is_authenticated"] is True
            keep(await http.post("/auth/jwt/logout"))

            admin = {"X-Admin-Token": admin_token}
            issued = await http.post("/api/generate-code", json={"contact": email}, headers=admin)
            login_code = issued.json()["code"]
            bad = await http.post("/api/generate-code", json={"contact": email}, headers={"X-Admin-Token": secret})
            assert bad.status_code == 403
            failed = await http.post("/auth/jwt/login_custom", json={"email": email, "code": wrong})
            assert failed.status_code in (400, 401)
            login = keep(await http.post("/auth/jwt/login_custom", json={"email": email, "code": login_code}))
            assert login.status_code == 200, login.text
            keep(await http.get("/auth/session"))
            await http.post("/ai/chat", json={"message": "покажи аналитику по стоматологии"})
            await http.post("/ai/chat/stream", json={"message": f"мой код {code}, а пароль {secret[:12]}"})
    finally:
        root.removeHandler(handler)
        handler.close()

    logged = log_file.read_text(encoding="utf-8")
    journaled = journal.read_text(encoding="utf-8") if journal.exists() else ""
    assert "chat turn" in logged  # the capture worked: the turns were logged
    forbidden = {"code": code, "login code": login_code, "admin token": admin_token, "SECRET": secret}
    forbidden |= {f"cookie {value[:8]}…": value for value in seen if len(value) >= 16}
    assert any(name.startswith("cookie") for name in forbidden) and len(seen) >= 3
    leaks = [name for name, value in forbidden.items() if value in logged or value in journaled]
    assert not leaks, leaks
