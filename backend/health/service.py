"""Readiness checks. Each dependency registers one async check; later domains add theirs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

Check = Callable[[], Awaitable[None]]


@dataclass
class HealthRegistry:
    checks: dict[str, Check] = field(default_factory=dict)
    timeout_seconds: float = 2.0

    def register(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def _run(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), self.timeout_seconds)
        except Exception as exc:
            return f"down: {type(exc).__name__}"
        return "ok"

    async def run(self) -> dict[str, str]:
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(self.checks[name]) for name in names))
        return dict(zip(names, results, strict=True))


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def redis_check(redis: aioredis.Redis) -> Check:
    async def check() -> None:
        await redis.ping()

    return check
