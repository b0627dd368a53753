"""Shared fixtures: a throwaway PostgreSQL database per run, a Redis database, the app and a client.

Servers come from TEST_POSTGRES_URL (an admin DSN; default postgresql://postgres@127.0.0.1:5432/postgres)
and TEST_REDIS_URL (default redis://127.0.0.1:6379/15). ``scripts/test.sh`` makes sure they run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import pytest_asyncio
import redis
import redis.asyncio as aioredis
from fastapi import FastAPI
from httpx import AsyncClient
from openai_standin import OpenAIStandIn
from smtp_standin import SMTPStandIn

from backend.core.config import ROOT_DIR, Settings
from backend.core.redis import create_async_redis
from backend.knowledge.indexer import build_index
from backend.main import create_app
from helpers import (
    ADMIN_DSN,
    TEST_REDIS_URL,
    ThrowawayPostgres,
    client_for,
    derive_settings,
    make_settings,
    reset_stores,
    run_alembic,
)

# Small fixture corpora keep the suite fast; the demo corpora are checked in tests/knowledge.
TEST_FAQ_DIR = ROOT_DIR / "tests" / "knowledge" / "fixtures" / "faq"
TEST_ANALYTICS_DIR = ROOT_DIR / "tests" / "knowledge" / "fixtures" / "analytics"


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    try:
        psycopg2.connect(ADMIN_DSN, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        pytest.exit(f"PostgreSQL not reachable at TEST_POSTGRES_URL={ADMIN_DSN}: {exc}", returncode=2)
    server = ThrowawayPostgres(ADMIN_DSN)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def database_url(postgres: ThrowawayPostgres) -> str:
    url = postgres.create()
    run_alembic(url, ("upgrade", "head"))
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis not reachable at TEST_REDIS_URL={TEST_REDIS_URL}: {exc}", returncode=2)
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture(scope="session")
def knowledge_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One index of the test corpora for the whole run (building it per test would be slow)."""
    root = tmp_path_factory.mktemp("knowledge")
    dirs: dict[str, Any] = {
        "KNOWLEDGE_DIR": root / "index",
        "CHROMA_DIR": root / "chroma",
        "FAQ_CORPUS_DIR": TEST_FAQ_DIR,
        "ANALYTICS_CORPUS_DIR": TEST_ANALYTICS_DIR,
    }
    build_index(make_settings(root, **dirs))
    return dirs


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str, knowledge_dirs: dict[str, Any]) -> Iterator[Settings]:
    reset_stores(database_url, redis_url)
    yield make_settings(tmp_path, DATABASE_URL=database_url, REDIS_URL=redis_url, **knowledge_dirs)


@pytest_asyncio.fixture
async def app_factory() -> AsyncIterator[Any]:
    """Starts apps (with their lifespans) for the test and stops them afterwards."""
    contexts: list[Any] = []

    async def start(settings: Settings, factory: Any = create_app) -> FastAPI:
        app = factory(settings)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        contexts.append(context)
        return app  # type: ignore[no-any-return]

    yield start
    for context in reversed(contexts):
        await context.__aexit__(None, None, None)


@pytest_asyncio.fixture
async def client(settings: Settings, app_factory: Any) -> AsyncIterator[AsyncClient]:
    app = await app_factory(settings)
    async with client_for(app) as http:
        yield http


@pytest.fixture(scope="session")
def standin() -> Iterator[OpenAIStandIn]:
    """A real local server speaking the OpenAI protocol, shared by the whole run."""
    server = OpenAIStandIn().start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def async_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An asyncio client of the tests' Redis, closed after the test."""
    client = create_async_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def fresh_standin(standin: OpenAIStandIn) -> OpenAIStandIn:
    return standin.reset()


@pytest.fixture
def standin_app(settings: Settings, tmp_path: Path, app_factory: Any, fresh_standin: OpenAIStandIn) -> Any:
    """Starts an app whose model is the stand-in, with more settings: ``await standin_app(KEY=value)``."""

    async def start(**overrides: Any) -> FastAPI:
        values = derive_settings(
            settings, tmp_path, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fresh_standin.base_url, **overrides
        )
        return await app_factory(values)  # type: ignore[no-any-return]

    return start


@pytest_asyncio.fixture
async def openai_client(standin_app: Any) -> AsyncIterator[AsyncClient]:
    """A client of an app whose model is the stand-in (2 s timeout, one retry)."""
    app = await standin_app(OPENAI_TIMEOUT_SECONDS=2, OPENAI_MAX_RETRIES=1)
    async with client_for(app) as http:
        yield http


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPStandIn]:
    """A real SMTP server (aiosmtpd) shared by the run; ``smtp`` empties its mailbox per test."""
    server = SMTPStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SMTPStandIn) -> SMTPStandIn:
    return smtp_server.reset()
