"""Helpers shared by tests (importable as ``helpers`` thanks to pytest's pythonpath)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import redis
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import create_engine, text

from backend.core.config import ROOT_DIR, Settings
from backend.models import Base

ADMIN_DSN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SECRET = "test-secret-that-is-long-enough-0123456789"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT_DIR / "alembic"))
    config.attributes["configure_logger"] = False
    config.attributes["database_url"] = database_url
    return config


def run_alembic(database_url: str, *actions: tuple[str, str]) -> None:
    config = alembic_config(database_url)
    for action, target in actions:
        getattr(command, action)(config, target)


class ThrowawayPostgres:
    """Creates databases on the test server and drops them all at the end of the run."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.created: list[str] = []

    def _admin(self) -> Any:
        conn = psycopg2.connect(self.admin_dsn)
        conn.autocommit = True
        return conn

    def create(self, prefix: str = "leadinc_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.created.append(name)
        base = self.admin_dsn.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for name in self.created:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def reset_stores(database_url: str, redis_url: str) -> None:
    """Empties every table and the Redis database: each test starts from nothing."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.begin() as conn:
        names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ENVIRONMENT": "test",
        "SECRET": TEST_SECRET,
        "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
        "VAR_DIR": tmp_path / "var",
        "LOG_LEVEL": "INFO",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def client_for(app: FastAPI, base_url: str = "https://testserver") -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app), base_url=base_url)


def derive_settings(base: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": base.DATABASE_URL,
        "REDIS_URL": base.REDIS_URL,
        "CHROMA_DIR": base.CHROMA_DIR,
        "KNOWLEDGE_DIR": base.KNOWLEDGE_DIR,
        "FAQ_CORPUS_DIR": base.FAQ_CORPUS_DIR,
        "ANALYTICS_CORPUS_DIR": base.ANALYTICS_CORPUS_DIR,
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


def stored_messages(settings: Settings, role: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(role, text, metadata) of every stored chat message, oldest first, read with the sync engine."""
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.database_url_sync)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT role, text, metadata FROM messages ORDER BY created_at")).all()
    finally:
        engine.dispose()
    messages = [(r[0], r[1], r[2] if isinstance(r[2], dict) else json.loads(r[2] or "{}")) for r in rows]
    return [m for m in messages if role is None or m[0] == role]


async def read_events(response: httpx.Response) -> list[tuple[str, str]]:
    """The (event, data) pairs of a Server-Sent Events response, read to its end."""
    events: list[tuple[str, str]] = []
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((event, line.split(":", 1)[1].strip()))
    return events


def set_cookies(response: httpx.Response) -> dict[str, Any]:
    """The cookies a response sets, by name, as ``http.cookies.Morsel`` objects (flags included)."""
    from http.cookies import SimpleCookie

    jar: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        jar.update(cookie.items())
    return jar
