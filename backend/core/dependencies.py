"""Typed infrastructure dependencies. Objects are built once in the lifespan and read from app.state.

No domain imports here: a domain's own dependencies (the session, the chat quotas) live in its package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.config import Settings
from backend.core.database import unit_of_work
from backend.core.ratelimit import RateLimiter


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    # ``async with``, not ``async for``: the route's exception must reach the unit of work (rollback,
    # then the on-close callbacks) now, not when the suspended generator is collected.
    async with unit_of_work(request.app.state.db_factory) as session:
        yield session


async def get_redis(request: Request) -> aioredis.Redis:
    redis: aioredis.Redis = request.app.state.redis
    return redis


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# Function scope: the unit of work commits (and runs its after-commit callbacks) before the response is
# sent, so a failed commit is answered as an error instead of after a 200 went out.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
