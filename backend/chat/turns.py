"""Turns are ordered per session: one Redis lock per ``sessionid`` around the whole turn.

The lock has an owner token (a second holder can never release it) and an expiry (a crashed process
cannot block a session for longer than ``TURN_LOCK_SECONDS``): ``SET NX PX`` to take it, and a Lua
script that deletes the key only while it still holds our token to release it (redis-py's ``Lock``
does the same; ours can also read a key in the round trip that takes the lock).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from backend.chat.exceptions import TurnInProgress

logger = logging.getLogger(__name__)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
RETRY_SECONDS = 0.05  # between two attempts while the previous turn runs


class TurnLock:
    def __init__(self, redis: aioredis.Redis, sid: str, *, expire_seconds: float, wait_seconds: float) -> None:
        self._redis = redis
        self._key = f"leadinc:turn:{sid}"
        self._expire_ms = int(expire_seconds * 1000)
        self._wait_seconds = wait_seconds
        self._token: str | None = None
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, *, read: str | None = None) -> str | None:
        """Wait up to ``wait_seconds`` for the session's previous turn; 409 TURN_IN_PROGRESS if it is
        still busy. With ``read``, also returns that key's value, read right after the lock was taken
        in the same round trip (so it holds whatever the previous turn wrote before releasing)."""
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._wait_seconds
        while True:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self._key, token, nx=True, px=self._expire_ms)
                if read is not None:
                    pipe.get(read)
                taken, *value = await pipe.execute()
            if taken:
                self._token = token
                return value[0] if value else None
            if self._wait_seconds <= 0 or loop.time() + RETRY_SECONDS > give_up_at:
                raise TurnInProgress
            await asyncio.sleep(RETRY_SECONDS)

    async def release(self) -> None:
        token, self._token = self._token, None
        if token is None:
            logger.warning("turn lock was no longer ours at release")
            return
        try:
            if not await self._release(keys=[self._key], args=[token]):
                # expired (a turn longer than TURN_LOCK_SECONDS) and perhaps taken by the next turn
                logger.warning("turn lock was no longer ours at release")
        except RedisError:  # the lock expires by itself; the turn's outcome stands
            logger.warning("turn lock release failed", exc_info=True)
