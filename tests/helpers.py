"""Helpers shared by tests (importable as ``helpers`` thanks to pytest's pythonpath)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import psycopg2
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from backend.core.config import ROOT_DIR, Settings

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
