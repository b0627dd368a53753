"""Moving-window rate limits stored in Redis, via the maintained ``limits`` library.

One ``RateLimiter`` per process shares the app's Redis connection pool. Infrastructure, not a domain:
the code service and the chat quotas (``backend.limits``) both count with it.

``enforce_all`` counts several limits in one round trip: one Lua script applies the library's
moving-window acquisition (``acquire_moving_window.lua``) to each window in order, on the library's
own keys, and stops at the first full one, exactly as calling ``enforce`` for each would. Its Lua
function (``ACQUIRE_ALL_FUNCTION``) and arguments (``windows``, ``check``) serve other scripts too.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from backend.core.errors import TooManyRequests

# ``acquire_all(keys, argv, base)``: one window (a list of hit times, newest first) per key; argv[base]:
# now, then each limit's size and length in seconds. Each window is counted as in limits'
# acquire_moving_window.lua (the window is full when its size-th newest hit is still inside it); at the
# first full window it stops and returns its 1-based position and its start as limits'
# moving_window.lua finds it (the oldest hit still inside, or now when there is none). 0 when every
# window took the hit. Other scripts embed it (``ACQUIRE_ALL_FUNCTION``: the chat turn's gate).
ACQUIRE_ALL_FUNCTION = """
local function acquire_all(keys, argv, base)
    local now = tonumber(argv[base])
    for i, key in ipairs(keys) do
        local limit = tonumber(argv[base + 2 * i - 1])
        local expiry = tonumber(argv[base + 2 * i])
        local entry = redis.call('lindex', key, limit - 1)
        if limit < 1 or (entry and tonumber(entry) >= now - expiry) then
            local low, high, oldest = 0, limit - 1, nil
            while low <= high do
                local mid = math.floor((low + high) / 2)
                local value = tonumber(redis.call('lindex', key, mid))
                if value and value >= now - expiry then
                    oldest = value
                    low = mid + 1
                else
                    high = mid - 1
                end
            end
            return {i, tostring(oldest or now)}
        end
        redis.call('lpush', key, now)
        redis.call('ltrim', key, 0, limit - 1)
        redis.call('expire', key, expiry)
    end
    return 0
end
"""
_ACQUIRE_ALL = ACQUIRE_ALL_FUNCTION + "return acquire_all(KEYS, ARGV, 1)\n"


@dataclass(frozen=True)
class Limit:
    """One limit to count: the rule's text ("10/minute"), the 429's ``detail`` (may name the wait as
    ``{seconds}``) and ``error_code``, and what is counted (``identifiers``)."""

    rule: str
    detail: str
    error_code: str
    identifiers: tuple[str, ...]


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, key_prefix: str = "leadinc:limits") -> None:
        storage = RedisStorage(
            "async+redis://pool:6379",  # placeholder: the shared pool below decides where we connect
            implementation="redispy",
            key_prefix=key_prefix,
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._strategy = MovingWindowRateLimiter(storage)
        self._key_prefix = key_prefix
        self._acquire_all = redis.register_script(_ACQUIRE_ALL)

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
        await self.enforce_all([Limit(rule, detail, error_code, identifiers)])

    async def enforce_all(self, limits: Sequence[Limit]) -> None:
        """``enforce`` each of ``limits`` in order, in one Redis round trip: the first that is over its
        rule answers 429, and the limits after it are not counted."""
        keys, args = self.windows(limits)
        self.check(limits, await self._acquire_all(keys=keys, args=args))

    def windows(self, limits: Sequence[Limit]) -> tuple[list[str], list[float | int]]:
        """The keys and arguments of ``acquire_all`` for ``limits`` (for a script that embeds it)."""
        items = [self.rule(limit.rule) for limit in limits]
        keys = [
            f"{self._key_prefix}:{item.key_for(*limit.identifiers)}" for item, limit in zip(items, limits, strict=True)
        ]
        args: list[float | int] = [time.time()]
        for item in items:
            args += [item.amount, item.get_expiry()]
        return keys, args

    def check(self, limits: Sequence[Limit], full: Sequence[int | str | bytes] | int) -> None:
        """Raise the 429 of ``acquire_all``'s answer ``full`` (its position and window start), if any."""
        if isinstance(full, Sequence) and full:
            position, window_start = full
            limit = limits[int(position) - 1]
            retry_after = max(1, math.ceil(float(window_start) + self.rule(limit.rule).get_expiry() - time.time()))
            raise TooManyRequests(
                limit.detail.format(seconds=retry_after), retry_after=retry_after, error_code=limit.error_code
            )

    async def clear(self, rule: RateLimitItem, *identifiers: str) -> None:
        await self._strategy.clear(rule, *identifiers)

    async def allows(self, rule: RateLimitItem, *identifiers: str) -> bool:
        """Whether one more hit would be allowed, without counting it."""
        return bool(await self._strategy.test(rule, *identifiers))
