"""Turns are ordered per session: one Redis lock per ``sessionid`` around the whole turn.

The lock has an owner token (a second holder can never release it) and an expiry (a crashed process
cannot block a session for longer than ``TURN_LOCK_SECONDS``): ``SET NX PX`` to take it, and a Lua
script that deletes the key only while it still holds our token to release it (redis-py's ``Lock``
does the same; ours can also read a key in the round trip that takes the lock).

``TurnLock.open`` opens an ordinary chat turn in one round trip (BENCHMARKS.md, "Turn cost", fourth
round): one script reads the session's state, counts the chat limits and takes the turn lock, where
these used to be three round trips (the session, the limits, the lock with the state).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.chat.exceptions import TurnInProgress
from backend.core.database import after_commit
from backend.core.ratelimit import ACQUIRE_ALL_FUNCTION, Limit, RateLimiter

logger = logging.getLogger(__name__)

# KEYS[1]: the turn lock; ARGV[1]: its token ('' when it is not held). With KEYS[2]: the session's state
# written first (ARGV[2], expiring in ARGV[3] seconds), and only while the session still exists (XX): a turn
# never brings back a session that ended while it ran (a sign-in gave it a new id, a log-out deleted it).
_RELEASE = """
if KEYS[2] then
    redis.call('set', KEYS[2], ARGV[2], 'XX', 'EX', ARGV[3])
end
if ARGV[1] ~= '' and redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

# KEYS[1]: the session's state; KEYS[2]: the turn lock; KEYS[3..]: the limits' windows. ARGV[1]: the
# caller's user id ('' for a guest); ARGV[2], ARGV[3]: the lock's token and expiry (ms); ARGV[4..]:
# acquire_all's (now, then each limit's size and length). A session the request would not simply
# resume (none; another user's, or one to attach to the caller; a sign-in pending) answers {0} and
# nothing is counted or taken: the caller goes the long way. Otherwise the limits are counted as
# ``RateLimiter.enforce_all`` counts them ({2, position, window start} at the first full one, and no
# lock), then the lock is tried: {1, state, 1 if taken else 0}.
_OPEN = (
    ACQUIRE_ALL_FUNCTION
    + """
local raw = redis.call('get', KEYS[1])
if not raw then return {0} end
local ok, state = pcall(cjson.decode, raw)
if not ok or type(state) ~= 'table' then return {0} end
if ARGV[1] ~= '' and state['user_id'] ~= ARGV[1] then return {0} end
local data = state['data']
if type(data) == 'table' and data['pending_login_user_id'] ~= nil then return {0} end
local windows = {}
for i = 3, #KEYS do windows[#windows + 1] = KEYS[i] end
local full = acquire_all(windows, ARGV, 4)
if full ~= 0 then return {2, full[1], full[2]} end
local taken = redis.call('set', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3])
if taken then return {1, raw, 1} end
return {1, raw, 0}
"""
)
RETRY_SECONDS = 0.05  # between two attempts while the previous turn runs

# The scripts of each Redis client, registered once (a lock is made per turn).
_scripts: weakref.WeakKeyDictionary[aioredis.Redis, tuple[AsyncScript, AsyncScript]] = weakref.WeakKeyDictionary()


def _scripts_of(redis: aioredis.Redis) -> tuple[AsyncScript, AsyncScript]:
    found = _scripts.get(redis)
    if found is None:
        found = _scripts[redis] = (redis.register_script(_RELEASE), redis.register_script(_OPEN))
    return found


class TurnLock:
    def __init__(self, redis: aioredis.Redis, sid: str, *, expire_seconds: float, wait_seconds: float) -> None:
        self._redis = redis
        self.key = f"leadinc:turn:{sid}"
        self._expire_ms = int(expire_seconds * 1000)
        self._wait_seconds = wait_seconds
        self._token: str | None = None
        self._handed_over = False
        self._write: tuple[str, str, int] | None = None  # key, value, expiry (s): written with the release
        self._release, self._open = _scripts_of(redis)

    async def acquire(self, *, read: str | None = None) -> str | None:
        """Wait up to ``wait_seconds`` for the session's previous turn; 409 TURN_IN_PROGRESS if it is
        still busy. With ``read``, also returns that key's value, read right after the lock was taken
        in the same round trip (so it holds whatever the previous turn wrote before releasing)."""
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._wait_seconds
        while True:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self.key, token, nx=True, px=self._expire_ms)
                if read is not None:
                    pipe.get(read)
                taken, *value = await pipe.execute()
            if taken:
                self._token = token
                return value[0] if value else None
            if self._wait_seconds <= 0 or loop.time() + RETRY_SECONDS > give_up_at:
                raise TurnInProgress
            await asyncio.sleep(RETRY_SECONDS)

    async def open(
        self, state_key: str, user_id: str, limiter: RateLimiter, limits: Sequence[Limit]
    ) -> tuple[str | bytes, str | bytes | None] | None:
        """An ordinary turn opened in one round trip: the state under ``state_key`` as the request
        resumes it, the ``limits`` counted (429 at the first full one, as ``enforce_all``), and the lock
        taken, waiting as ``acquire`` does if the previous turn still runs. Returns the state as found,
        and the state as the lock found it (the same unless this turn waited); None when the session is
        not one to simply resume (see ``_OPEN``): nothing was counted or taken."""
        windows, args = limiter.windows(limits)
        token = uuid.uuid4().hex
        answer = await self._open(keys=[state_key, self.key, *windows], args=[user_id, token, self._expire_ms, *args])
        if int(answer[0]) == 0:
            return None
        if int(answer[0]) == 2:
            limiter.check(limits, answer[1:])
        raw: str | bytes = answer[1]
        if int(answer[2]):
            self._token = token
            return raw, raw
        return raw, await self.acquire(read=state_key)

    def hand_over(self) -> TurnLock:
        """The lock held from now on by another object (a streamed turn, which outlives the request that
        took it); this one's ``release`` does nothing."""
        other = TurnLock.__new__(TurnLock)
        other.__dict__.update(self.__dict__)
        self._token, self._handed_over = None, True
        return other

    def write_on_release(self, db: AsyncSession, key: str, value: Callable[[], str], expire_seconds: int) -> None:
        """Once ``db``'s unit of work commits, write ``value()`` (taken then) under ``key`` in the round trip
        that releases the lock, if ``key`` still exists then; nothing is written after a rollback. The
        turn's state is the session's last write before the lock goes (a sign-in's deletion of the old
        session comes after the commit too), so both share one round trip (BENCHMARKS.md, "Turn cost")."""

        async def committed() -> None:
            self._write = (key, value(), expire_seconds)

        after_commit(db, committed)

    async def release(self) -> None:
        token, self._token = self._token, None
        write, self._write = self._write, None
        if token is None and not self._handed_over:
            logger.warning("turn lock was no longer ours at release")
        if token is None and write is None:
            return
        keys: list[str] = [self.key]
        args: list[str | int] = [token or ""]
        if write is not None:
            keys.append(write[0])
            args += [write[1], write[2]]
        try:
            released = await self._release(keys=keys, args=args)
        except RedisError:
            if write is not None:  # the session's state is not stored: the turn did not complete
                raise
            logger.warning("turn lock release failed", exc_info=True)  # it expires by itself
            return
        if token is not None and not released:
            # expired (a turn longer than TURN_LOCK_SECONDS) and perhaps taken by the next turn
            logger.warning("turn lock was no longer ours at release")


@dataclass(frozen=True)
class HeldTurn:
    """A turn lock the caller holds, with the session's state as read in the round trip that took it."""

    lock: TurnLock
    stored: str | bytes | None
