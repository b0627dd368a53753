"""``RateLimiter.enforce_all`` on the suite's real Redis: several limits in one round trip that count
exactly as one ``enforce`` per limit would (the limits library's keys and moving windows, in order,
stopping at the first full one), also under concurrent requests."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from backend.core.errors import TooManyRequests
from backend.core.ratelimit import Limit, RateLimiter


def limit(rule: str, scope: str, who: str) -> Limit:
    return Limit(rule, f"{scope}: wait {{seconds}} s", scope.upper(), (scope, who))


async def test_counts_on_the_librarys_own_windows(async_redis: aioredis.Redis) -> None:
    limiter, who = RateLimiter(async_redis), uuid.uuid4().hex
    rule = RateLimiter.rule("2/minute")
    await limiter.enforce_all([limit("2/minute", "a", who)])
    assert await limiter.allows(rule, "a", who)  # the library sees the hit: one left
    await limiter.enforce_all([limit("2/minute", "a", who)])
    assert not await limiter.allows(rule, "a", who)
    with pytest.raises(TooManyRequests):
        await limiter.enforce_all([limit("2/minute", "a", who)])
    assert await limiter.hit(rule, "a", who) is not None  # the library's own hit agrees: full
    await limiter.clear(rule, "a", who)
    await limiter.enforce_all([limit("2/minute", "a", who)])  # cleared by the library: counts again


async def test_stops_at_the_first_full_window_in_order(async_redis: aioredis.Redis) -> None:
    limiter, who = RateLimiter(async_redis), uuid.uuid4().hex
    checks = [limit("5/minute", "first", who), limit("1/minute", "second", who), limit("5/minute", "third", who)]
    await limiter.enforce_all(checks)
    with pytest.raises(TooManyRequests) as refused:
        await limiter.enforce_all(checks)
    assert refused.value.error_code == "SECOND"
    assert refused.value.detail == "second: wait {} s".format(refused.value.extra["retry_after"])
    five = RateLimiter.rule("5/minute")
    first = await limiter._strategy.get_window_stats(five, "first", who)
    third = await limiter._strategy.get_window_stats(five, "third", who)
    assert (first.remaining, third.remaining) == (3, 4)  # counted before the full one; not after it


async def test_retry_after_is_when_the_oldest_hit_leaves_the_window(async_redis: aioredis.Redis) -> None:
    limiter, who = RateLimiter(async_redis), uuid.uuid4().hex
    await limiter.enforce_all([limit("1/10 seconds", "burst", who)])
    with pytest.raises(TooManyRequests) as refused:
        await limiter.enforce_all([limit("1/10 seconds", "burst", who)])
    assert refused.value.extra["retry_after"] in (9, 10)
    key = f"leadinc:limits:{RateLimiter.rule('1/10 seconds').key_for('burst', who)}"
    await async_redis.lset(key, 0, time.time() - 7)
    with pytest.raises(TooManyRequests) as later:
        await limiter.enforce_all([limit("1/10 seconds", "burst", who)])
    assert later.value.extra["retry_after"] in (2, 3)
    await async_redis.lset(key, 0, time.time() - 11)  # out of the window: the next hit counts, the window keeps one
    await limiter.enforce_all([limit("1/10 seconds", "burst", who)])
    assert await async_redis.llen(key) == 1


async def test_concurrent_requests_never_exceed_a_limit(async_redis: aioredis.Redis) -> None:
    limiter, who = RateLimiter(async_redis), uuid.uuid4().hex
    checks = [limit("100/minute", "wide", who), limit("7/minute", "narrow", who)]

    async def attempt() -> str | None:
        try:
            await limiter.enforce_all(checks)
        except TooManyRequests as exc:
            return exc.error_code
        return None

    outcomes = await asyncio.gather(*(attempt() for _ in range(40)))
    assert outcomes.count(None) == 7 and outcomes.count("NARROW") == 33
    wide = await limiter._strategy.get_window_stats(RateLimiter.rule("100/minute"), "wide", who)
    assert wide.remaining == 60  # every attempt passed the first window before the second refused it
