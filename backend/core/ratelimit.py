"""Moving-window rate limits stored in Redis, via the maintained ``limits`` library.

One ``RateLimiter`` per process shares the app's Redis connection pool. Infrastructure, not a domain:
the code service and the chat quotas (``backend.limits``) both count with it.
"""

from __future__ import annotations

import functools
import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from backend.core.errors import TooManyRequests


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, key_prefix: str = "leadinc:limits") -> None:
        storage = RedisStorage(
            "async+redis://pool:6379",  # placeholder: the shared pool below decides where we connect
            implementation="redispy",
            key_prefix=key_prefix,
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._strategy = MovingWindowRateLimiter(storage)

    @staticmethod
    @functools.lru_cache(maxsize=128)
    def rule(text: str) -> RateLimitItem:
        """The parsed rule (parsed once per text: every chat turn checks the same few)."""
        return parse(text)

    async def hit(self, rule: RateLimitItem, *identifiers: str) -> int | None:
        """Count one hit. Return None when allowed, else the seconds until a retry can succeed."""
        if await self._strategy.hit(rule, *identifiers):
            return None
        stats = await self._strategy.get_window_stats(rule, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def enforce(self, rule: str, detail: str, error_code: str, *identifiers: str) -> None:
        """Count one hit of ``rule`` (its text); over the limit, 429 ``error_code`` with Retry-After and
        ``detail``, which may name the wait as ``{seconds}``."""
        retry_after = await self.hit(self.rule(rule), *identifiers)
        if retry_after is not None:
            raise TooManyRequests(detail.format(seconds=retry_after), retry_after=retry_after, error_code=error_code)

    async def clear(self, rule: RateLimitItem, *identifiers: str) -> None:
        await self._strategy.clear(rule, *identifiers)

    async def allows(self, rule: RateLimitItem, *identifiers: str) -> bool:
        """Whether one more hit would be allowed, without counting it."""
        return bool(await self._strategy.test(rule, *identifiers))
