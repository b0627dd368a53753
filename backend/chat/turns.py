"""Turns are ordered per session: one Redis lock per ``sessionid`` around the whole turn.

The lock has an owner token (a second holder can never release it) and an expiry (a crashed process
cannot block a session for longer than ``TURN_LOCK_SECONDS``). redis-py's ``Lock`` releases with a
Lua script that deletes the key only while it still holds our token.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from backend.chat.exceptions import TurnInProgress

logger = logging.getLogger(__name__)


class TurnLock:
    def __init__(self, redis: aioredis.Redis, sid: str, *, expire_seconds: float, wait_seconds: float) -> None:
        self._lock = redis.lock(
            f"leadinc:turn:{sid}",
            timeout=expire_seconds,
            blocking=wait_seconds > 0,
            blocking_timeout=wait_seconds,
            sleep=0.05,
        )

    async def acquire(self) -> None:
        """Wait up to ``wait_seconds`` for the session's previous turn; 409 TURN_IN_PROGRESS if it is still busy."""
        if not await self._lock.acquire():
            raise TurnInProgress

    async def release(self) -> None:
        try:
            await self._lock.release()
        except LockError:  # expired (a turn longer than TURN_LOCK_SECONDS) or never acquired
            logger.warning("turn lock was no longer ours at release")
        except RedisError:  # the lock expires by itself; the turn's outcome stands
            logger.warning("turn lock release failed", exc_info=True)
