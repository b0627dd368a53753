"""Errors are classified honestly: each case is a real exception from a real PostgreSQL, Redis, socket
or disk, put through the same ``classify`` the handlers and the SSE stream use."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backend.core.config import Settings
from backend.core.error_handlers import classify
from backend.core.logging import configure_logging, request_id_var
from helpers import client_for


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _raised(settings: Settings, sql: str, *params: dict[str, Any]) -> BaseException:
    engine = create_async_engine(settings.database_url_async)
    try:
        async with engine.begin() as conn:
            for statement in sql.split(";"):
                if statement.strip():
                    await conn.execute(text(statement), *params)
    except Exception as exc:  # the real driver error, wrapped as SQLAlchemy raises it
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the statement did not fail")


def _journal(settings: Settings) -> list[dict[str, Any]]:
    path = Path(settings.error_journal_path)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_uniqueness_violation_is_409(settings: Settings) -> None:
    insert = (
        "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified, created_at) "
        "VALUES (gen_random_uuid(), :email, 'x', true, false, false, now())"
    )
    exc = await _raised(settings, f"{insert}; {insert}", {"email": f"dup-{uuid.uuid4().hex[:6]}@example.com"})
    status, body, headers = classify(exc, "/test")
    assert (status, body["error_code"]) == (409, "ALREADY_EXISTS") and body["detail"]
    assert "Retry-After" not in headers


async def test_other_integrity_errors_and_programming_errors_are_500(settings: Settings) -> None:
    configure_logging(settings)
    token = request_id_var.set("req-classify-1")
    try:
        broken_reference = await _raised(
            settings,
            "INSERT INTO messages (id, session_id, role, text, metadata, created_at) "
            "VALUES (gen_random_uuid(), gen_random_uuid(), 'user', 'x', '{}', now())",
        )
        status, body, _ = classify(broken_reference, "/test")
        assert (status, body["error_code"]) == (500, "INTERNAL_ERROR")
        typo = await _raised(settings, "SELEC 1")
        status, body, headers = classify(typo, "/test")
        assert (status, body["error_code"]) == (500, "INTERNAL_ERROR")
        assert "Retry-After" not in headers
    finally:
        request_id_var.reset(token)
    journaled = [r for r in _journal(settings) if r["kind"] == "unhandled_error"]
    assert journaled and journaled[-1]["request_id"] == "req-classify-1"
    assert journaled[-1]["error_type"] == "ProgrammingError"


async def test_a_statement_timeout_is_503(settings: Settings) -> None:
    exc = await _raised(settings, "SET LOCAL statement_timeout = 50; SELECT pg_sleep(2)")
    status, body, headers = classify(exc, "/test")
    assert (status, body["error_code"], headers.get("Retry-After")) == (503, "SERVICE_UNAVAILABLE", "5")


async def test_postgres_unreachable_is_503(settings: Settings) -> None:
    url = settings.database_url_async.replace("127.0.0.1:5432", f"127.0.0.1:{_closed_port()}")
    assert url != settings.database_url_async
    engine = create_async_engine(url)
    try:
        with pytest.raises(Exception) as raised:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    status, body, headers = classify(raised.value, "/test")
    assert (status, headers.get("Retry-After")) == (503, "5") and "database" in body["detail"]


async def test_redis_unreachable_is_503() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=_closed_port(), socket_connect_timeout=1)
    try:
        with pytest.raises(Exception) as raised:
            await client.get("x")
    finally:
        await client.aclose()
    status, body, headers = classify(raised.value, "/test")
    assert (status, headers.get("Retry-After")) == (503, "5") and "redis" in body["detail"]


async def test_an_http_dependency_unreachable_is_503() -> None:
    """Chroma's HTTP client (and any dependency over HTTP) fails with httpx transport errors."""
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.TransportError) as raised:
            await http.get(f"http://127.0.0.1:{_closed_port()}/api/v2/heartbeat")
    status, body, _ = classify(raised.value, "/test")
    assert status == 503 and "vector_store" in body["detail"]


def test_a_full_disk_is_503_and_a_missing_file_is_500(tmp_path: Path) -> None:
    with pytest.raises(OSError) as full, open("/dev/full", "wb") as out:
        out.write(b"x")
        out.flush()
    status, body, headers = classify(full.value, "/test")
    assert (status, headers.get("Retry-After")) == (503, "5") and "disk" in body["detail"]
    with pytest.raises(OSError) as missing:
        (tmp_path / "no-such-file").read_bytes()
    status, body, headers = classify(missing.value, "/test")
    assert (status, body["error_code"]) == (500, "INTERNAL_ERROR") and "Retry-After" not in headers


async def test_a_duplicate_registration_race_is_409_over_http(settings: Settings, app_factory: Any) -> None:
    """Ten simultaneous registrations of one e-mail: one account, every other answer a 409 (never 503/500)."""
    import asyncio

    app = await app_factory(settings)
    async with client_for(app) as http:
        responses = await asyncio.gather(
            *(http.post("/auth/register", json={"email": "race@example.com", "password": "a-long-password-1"})
              for _ in range(10))
        )  # fmt: skip
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    assert {r.json()["error_code"] for r in responses if r.status_code == 409} <= {
        "USER_ALREADY_EXISTS",
        "ALREADY_EXISTS",
    }
