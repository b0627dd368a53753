"""Conversation sessions: the ``sessionid`` cookie names a JSON state kept in Redis for 12 h.

A session that has said something also has a ``chat_sessions`` row, so its messages survive the
Redis state. A visitor who only opened the page costs one Redis key and no row: ``ensure_stored``
inserts the row with the session's first message or upload, with where the visitor came from
(``record_visit``: kept in the Redis state until then). Methods that take the request's
``AsyncSession`` only flush, and write Redis after that unit of work commits: a failed request
leaves no state pointing at a row that was never stored, and no destroyed old session.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import repository
from backend.core.database import after_commit


@dataclass
class SessionState:
    sid: str
    chat_session_id: uuid.UUID
    user_id: uuid.UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)  # scenario state (funnel stage, article...)
    stored: bool = True  # the chat_sessions row exists
    is_new: bool = False
    visit: dict[str, str] | None = None  # landing page and UTM tags (auth.schemas.Visit), until the row stores them

    def to_json(self) -> str:
        return json.dumps(
            {
                "chat_session_id": str(self.chat_session_id),
                "user_id": str(self.user_id) if self.user_id else None,
                "data": self.data,
                "stored": self.stored,
                "visit": self.visit,
            }
        )

    @classmethod
    def from_json(cls, sid: str, raw: str) -> SessionState:
        payload = json.loads(raw)
        user_id = payload.get("user_id")
        return cls(
            sid=sid,
            chat_session_id=uuid.UUID(payload["chat_session_id"]),
            user_id=uuid.UUID(user_id) if user_id else None,
            data=payload.get("data") or {},
            stored=payload.get("stored", True),
            visit=payload.get("visit"),
        )


class SessionStore:
    def __init__(self, redis: aioredis.Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    @staticmethod
    def key(sid: str) -> str:
        """The Redis key of session ``sid``'s state (a turn reads it in the round trip taking its lock)."""
        return f"leadinc:session:{sid}"

    async def load(self, sid: str | None) -> SessionState | None:
        if not sid or len(sid) > 128:
            return None
        return self.parse(sid, await self._redis.get(self.key(sid)))

    @staticmethod
    def parse(sid: str, raw: str | bytes | None) -> SessionState | None:
        """The state stored under ``key(sid)``, or None when there was none."""
        return SessionState.from_json(sid, raw if isinstance(raw, str) else raw.decode()) if raw else None

    async def save(self, state: SessionState) -> None:
        await self._redis.set(self.key(state.sid), state.to_json(), ex=self._ttl)

    async def destroy(self, sid: str | None) -> None:
        if sid:
            await self._redis.delete(self.key(sid))

    async def destroy_conversations(self, chat_session_ids: set[uuid.UUID]) -> int:
        """Delete every session state that names one of ``chat_session_ids`` (an erased account's);
        a SCAN over the session keys, so meant for rare operator actions. Returns how many went."""
        wanted, removed = {str(i) for i in chat_session_ids}, 0
        async for key in self._redis.scan_iter(match=self.key("*"), count=500):
            raw = await self._redis.get(key)
            if raw and json.loads(raw).get("chat_session_id") in wanted:
                removed += int(await self._redis.delete(key))
        return removed

    def save_after_commit(self, db: AsyncSession, state: SessionState) -> None:
        """Write ``state`` to Redis once ``db``'s unit of work commits (its current contents then)."""

        async def save() -> None:
            await self.save(state)

        after_commit(db, save)

    async def create(self, db: AsyncSession, user_id: uuid.UUID | None) -> SessionState:
        """A new session in Redis only; its row waits for the first message (``ensure_stored``)."""
        state = SessionState(
            sid=secrets.token_urlsafe(32), chat_session_id=uuid.uuid4(), user_id=user_id, stored=False, is_new=True
        )
        self.save_after_commit(db, state)
        return state

    async def resume_or_create(self, db: AsyncSession, sid: str | None, user_id: uuid.UUID | None) -> SessionState:
        """The session named by the cookie, or a fresh one (e.g. a live JWT whose session expired)."""
        state = await self.load(sid)
        if state is None or (user_id is not None and state.user_id not in (None, user_id)):
            return await self.create(db, user_id)
        if user_id is not None and state.user_id is None:
            await self.attach_user(db, state, user_id)
        return state

    async def rotate(
        self, db: AsyncSession, old_sid: str | None, user_id: uuid.UUID, current: SessionState | None = None
    ) -> SessionState:
        """New session id after login (no session fixation); the conversation carries over.

        ``current`` is the old session as this request holds it (newer than Redis during a turn)."""
        old = current if current is not None and current.sid == old_sid else await self.load(old_sid)

        async def destroy_old() -> None:
            await self.destroy(old_sid)

        after_commit(db, destroy_old)
        if old is None or old.user_id not in (None, user_id):
            return await self.create(db, user_id)
        state = SessionState(
            sid=secrets.token_urlsafe(32),
            chat_session_id=old.chat_session_id,
            data=old.data,
            stored=old.stored,
            is_new=True,
            visit=old.visit,
        )
        await self.attach_user(db, state, user_id)
        return state

    async def attach_user(self, db: AsyncSession, state: SessionState, user_id: uuid.UUID) -> None:
        if state.stored:
            await repository.attach_user(db, state.chat_session_id, user_id)
        state.user_id = user_id
        self.save_after_commit(db, state)


def record_visit(state: SessionState, visit: dict[str, str]) -> None:
    """First touch: a session takes the visit of the request that created it, never a later one's.

    A new session's Redis write is already due after the request's commit (``create``), and writes
    the state as it is then; a session the request did not create is left alone (so a second tab's
    ``/auth/session`` neither replaces the tags nor overwrites what a concurrent turn leaves)."""
    if visit and state.is_new and not state.stored and state.visit is None:
        state.visit = visit


async def ensure_stored(db: AsyncSession, state: SessionState) -> None:
    """Create the session's row before its first message or upload is stored (idempotent)."""
    if not state.stored:
        await repository.store_session(db, state.chat_session_id, state.user_id, state.visit)
        state.stored = True
