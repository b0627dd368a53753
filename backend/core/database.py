"""Engines and sessions, built from the one DSN in Settings.

The async engine serves FastAPI; the sync engine serves Celery, Alembic and CLIs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from backend.core.config import Settings


def _sqlite_path(url: str) -> Path | None:
    prefix = url.split("://", 1)[1]
    path = prefix[1:] if prefix.startswith("/") else prefix
    return Path("/" + path) if prefix.startswith("//") else (Path(path) if path else None)


def _prepare_sqlite(url: str) -> dict[str, Any]:
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return {"connect_args": {"timeout": 30}}


def _unicode_lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _enable_sqlite_pragmas(sync_engine: Engine) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's lower() and LIKE fold ASCII only; case-insensitive search over Russian text needs this.
        dbapi_connection.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)


def create_async_db_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url_async
    if settings.is_sqlite:
        engine = create_async_engine(url, echo=settings.DB_ECHO, **_prepare_sqlite(url))
        _enable_sqlite_pragmas(engine.sync_engine)
        return engine
    engine = create_async_engine(
        url,
        echo=settings.DB_ECHO,
        pool_size=settings.DB_POOL_SIZE,
        max_overflow=settings.DB_MAX_OVERFLOW,
        pool_timeout=settings.DB_POOL_TIMEOUT_SECONDS,
        pool_recycle=1800,
    )
    _discard_closed_on_checkout(engine.sync_engine)
    return engine


def _discard_closed_on_checkout(sync_engine: Engine) -> None:
    """A pre-ping without a round trip, for asyncpg.

    A PostgreSQL restart closes every connection; asyncpg notices the closed socket by itself, so a
    checkout that finds its connection closed discards it and the pool takes another (or opens one).
    SQLAlchemy's ``pool_pre_ping`` would send BEGIN, an empty query and ROLLBACK on every checkout:
    three round trips, twice per chat turn (the visitor's message commits before the reply)."""

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")


def create_sync_db_engine(settings: Settings) -> Engine:
    url = settings.database_url_sync
    if settings.is_sqlite:
        engine = create_engine(url, echo=settings.DB_ECHO, **_prepare_sqlite(url))
        _enable_sqlite_pragmas(engine)
        return engine
    return create_engine(url, echo=settings.DB_ECHO, pool_pre_ping=True, pool_recycle=1800)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def sync_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


Callback = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: Callback) -> None:
    """Run ``callback`` once the unit of work that owns ``session`` has committed (never on rollback).

    Services use it for side effects outside the database (the Redis session state, a Celery task,
    metrics), so those only happen for work whose rows are really stored."""
    session.info.setdefault("after_commit", []).append(callback)


def on_close(session: AsyncSession, callback: Callback) -> None:
    """Run ``callback`` when the unit of work ends, committed or not, after the after-commit callbacks
    (e.g. releasing a lock held for the whole unit of work)."""
    session.info.setdefault("on_close", []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit, then run (and forget) the after-commit callbacks in order."""
    await session.commit()
    callbacks: list[Callback] = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Unit of work: commit on success (then the after-commit callbacks), roll back on error, then the
    on-close callbacks either way. Services only flush()."""
    async with factory() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise
        finally:
            closing: list[Callback] = session.info.pop("on_close", [])
            for callback in reversed(closing):
                await callback()


unit_of_work = asynccontextmanager(session_scope)
"""``async with unit_of_work(factory) as db:`` — the same unit of work outside a request (a streamed
turn, a Celery task)."""
