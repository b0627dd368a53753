"""The per-session turn lock on the suite's real Redis: one holder at a time, an owner token, an
expiry, and the state read in the round trip that takes the lock."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import async_sessionmaker

from backend.chat.exceptions import TurnInProgress
from backend.chat.turns import TurnLock
from backend.core.database import after_commit, on_close, unit_of_work


def lock(async_redis: aioredis.Redis, sid: str, *, wait: float = 2.0, expire: float = 10.0) -> TurnLock:
    return TurnLock(async_redis, sid, expire_seconds=expire, wait_seconds=wait)


async def test_one_holder_at_a_time_under_concurrent_turns(async_redis: aioredis.Redis) -> None:
    sid, inside, overlaps = uuid.uuid4().hex, 0, 0

    async def turn() -> None:
        nonlocal inside, overlaps
        held = lock(async_redis, sid)
        await held.acquire()
        inside += 1
        overlaps += inside > 1
        await asyncio.sleep(0.01)
        inside -= 1
        await held.release()

    await asyncio.gather(*(turn() for _ in range(10)))
    assert overlaps == 0
    assert await async_redis.exists(f"leadinc:turn:{sid}") == 0


async def test_a_busy_session_is_refused_after_the_wait(async_redis: aioredis.Redis) -> None:
    sid = uuid.uuid4().hex
    first = lock(async_redis, sid)
    await first.acquire()
    with pytest.raises(TurnInProgress):
        await lock(async_redis, sid, wait=0).acquire()
    with pytest.raises(TurnInProgress):
        await lock(async_redis, sid, wait=0.2).acquire()
    await first.release()
    await lock(async_redis, sid, wait=0).acquire()


async def test_the_waiting_turn_reads_what_the_previous_one_wrote(async_redis: aioredis.Redis) -> None:
    sid, key = uuid.uuid4().hex, f"test:state:{uuid.uuid4().hex}"
    await async_redis.set(key, "before")
    first = lock(async_redis, sid)
    assert await first.acquire(read=key) == "before"

    async def second() -> str | None:
        return await lock(async_redis, sid).acquire(read=key)

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.15)  # the second turn is polling the taken lock
    await async_redis.set(key, "after")
    await first.release()
    assert await waiting == "after"
    assert await lock(async_redis, uuid.uuid4().hex).acquire(read=f"test:state:{uuid.uuid4().hex}") is None
    await async_redis.delete(key)


async def test_an_expired_holder_cannot_release_the_next_turns_lock(async_redis: aioredis.Redis) -> None:
    sid = uuid.uuid4().hex
    slow = lock(async_redis, sid, expire=0.1)
    await slow.acquire()
    await asyncio.sleep(0.2)  # expired: the next turn may go
    nxt = lock(async_redis, sid, wait=0)
    await nxt.acquire()
    await slow.release()  # not the owner any more: a warning, and the next turn keeps its lock
    with pytest.raises(TurnInProgress):
        await lock(async_redis, sid, wait=0).acquire()
    await nxt.release()
    await nxt.release()  # twice: nothing left to release, no error
    await lock(async_redis, sid, wait=0).acquire()


async def test_the_state_goes_with_the_release_after_a_commit_and_never_brings_a_session_back(
    async_redis: aioredis.Redis,
) -> None:
    """``write_on_release``: the state is written in the round trip that releases the lock, only when the
    unit of work committed, and only while the session still exists (a sign-in deletes the old one after
    the commit, before the lock goes)."""
    key = f"test:state:{uuid.uuid4().hex}"
    await async_redis.set(key, "before")
    factory = async_sessionmaker()  # no statement is sent: the callbacks alone are under test

    async def turn(value: str, *, fail: bool = False, then_delete: bool = False) -> TurnLock:
        held = lock(async_redis, uuid.uuid4().hex)
        await held.acquire()
        with contextlib.suppress(RuntimeError):
            async with unit_of_work(factory) as db:
                on_close(db, held.release)
                held.write_on_release(db, key, lambda: value, 60)
                if then_delete:
                    after_commit(db, lambda: async_redis.delete(key))
                if fail:
                    raise RuntimeError("the turn failed")
        assert await async_redis.exists(held.key) == 0  # released either way
        return held

    await turn("committed")
    assert await async_redis.get(key) == "committed" and 0 < await async_redis.ttl(key) <= 60
    await turn("rolled back", fail=True)
    assert await async_redis.get(key) == "committed"
    await turn("after the session ended", then_delete=True)
    assert await async_redis.exists(key) == 0
