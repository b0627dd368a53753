"""The per-session turn lock on the suite's real Redis: one holder at a time, an owner token, an
expiry, and the state read in the round trip that takes the lock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from backend.chat.exceptions import TurnInProgress
from backend.chat.turns import TurnLock
from backend.core.redis import create_async_redis


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = create_async_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def lock(redis: aioredis.Redis, sid: str, *, wait: float = 2.0, expire: float = 10.0) -> TurnLock:
    return TurnLock(redis, sid, expire_seconds=expire, wait_seconds=wait)


async def test_one_holder_at_a_time_under_concurrent_turns(redis: aioredis.Redis) -> None:
    sid, inside, overlaps = uuid.uuid4().hex, 0, 0

    async def turn() -> None:
        nonlocal inside, overlaps
        held = lock(redis, sid)
        await held.acquire()
        inside += 1
        overlaps += inside > 1
        await asyncio.sleep(0.01)
        inside -= 1
        await held.release()

    await asyncio.gather(*(turn() for _ in range(10)))
    assert overlaps == 0
    assert await redis.exists(f"leadinc:turn:{sid}") == 0


async def test_a_busy_session_is_refused_after_the_wait(redis: aioredis.Redis) -> None:
    sid = uuid.uuid4().hex
    first = lock(redis, sid)
    await first.acquire()
    with pytest.raises(TurnInProgress):
        await lock(redis, sid, wait=0).acquire()
    with pytest.raises(TurnInProgress):
        await lock(redis, sid, wait=0.2).acquire()
    await first.release()
    await lock(redis, sid, wait=0).acquire()


async def test_the_waiting_turn_reads_what_the_previous_one_wrote(redis: aioredis.Redis) -> None:
    sid, key = uuid.uuid4().hex, f"test:state:{uuid.uuid4().hex}"
    await redis.set(key, "before")
    first = lock(redis, sid)
    assert await first.acquire(read=key) == "before"

    async def second() -> str | None:
        return await lock(redis, sid).acquire(read=key)

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.15)  # the second turn is polling the taken lock
    await redis.set(key, "after")
    await first.release()
    assert await waiting == "after"
    assert await lock(redis, uuid.uuid4().hex).acquire(read=f"test:state:{uuid.uuid4().hex}") is None
    await redis.delete(key)


async def test_an_expired_holder_cannot_release_the_next_turns_lock(redis: aioredis.Redis) -> None:
    sid = uuid.uuid4().hex
    slow = lock(redis, sid, expire=0.1)
    await slow.acquire()
    await asyncio.sleep(0.2)  # expired: the next turn may go
    nxt = lock(redis, sid, wait=0)
    await nxt.acquire()
    await slow.release()  # not the owner any more: a warning, and the next turn keeps its lock
    with pytest.raises(TurnInProgress):
        await lock(redis, sid, wait=0).acquire()
    await nxt.release()
    await nxt.release()  # twice: nothing left to release, no error
    await lock(redis, sid, wait=0).acquire()
