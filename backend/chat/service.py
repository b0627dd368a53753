"""One chat turn around the engine: persist the user's message first, run the engine, persist the
reply with its metadata, enforce the OFFTOPIC quota, keep the session state."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.assistant.context import Caller
from backend.assistant.contract import Reply
from backend.assistant.engine import TurnEngine, TurnInput
from backend.assistant.loop import DeltaSink
from backend.auth.models import User
from backend.auth.service import has_analytics_access
from backend.auth.sessions import SessionState, SessionStore
from backend.chat import repository
from backend.core.config import Settings
from backend.limits.dependencies import enforce_offtopic_quota
from backend.limits.limiter import RateLimiter
from backend.metrics.instruments import record_turn

logger = logging.getLogger(__name__)


def build_caller(user: User | None, settings: Settings) -> Caller:
    """Who is talking, and whether ANALYTICS is open to them (trial, subscription or whitelist)."""
    if user is None:
        return Caller(user_id=None)
    return Caller(user_id=user.id, email=user.email, has_access=has_analytics_access(user, settings))


@dataclass
class ChatResult:
    reply: Reply
    login_user_id: uuid.UUID | None
    message_id: uuid.UUID


class ChatService:
    def __init__(
        self,
        *,
        db_factory: async_sessionmaker[AsyncSession],
        engine: TurnEngine,
        store: SessionStore,
        limiter: RateLimiter,
        settings: Settings,
    ) -> None:
        self._db_factory = db_factory
        self._engine = engine
        self._store = store
        self._limiter = limiter
        self._settings = settings

    async def _save_user_message(self, state: SessionState, text: str) -> tuple[uuid.UUID, list[tuple[str, str]]]:
        async with self._db_factory() as db, db.begin():
            history = await repository.recent_messages(db, state.chat_session_id, self._settings.HISTORY_TURNS)
            row = await repository.add_message(
                db, session_id=state.chat_session_id, user_id=state.user_id, role="user", text=text
            )
            return row.id, [(m.role, m.text) for m in history]

    async def save_state(self, state: SessionState) -> None:
        await self._store.save(state)

    async def handle(self, text: str, state: SessionState, caller: Caller, sink: DeltaSink | None = None) -> ChatResult:
        message_id, history = await self._save_user_message(state, text)  # before anything that can fail
        turn = TurnInput(
            text=text,
            sid=state.sid,
            chat_session_id=state.chat_session_id,
            caller=caller,
            session_data=state.data,
            history=history,
        )
        output = await self._engine.run(turn, sink)
        await self._store.save(state)
        if output.reply.scenario == "OFFTOPIC":
            await enforce_offtopic_quota(self._limiter, self._settings.RATE_OFFTOPIC, state.sid)
        async with self._db_factory() as db, db.begin():
            await repository.add_message(
                db,
                session_id=state.chat_session_id,
                user_id=output.login_user_id or state.user_id,
                role="assistant",
                text=output.reply.reply,
                scenario=output.reply.scenario.value,
                meta=output.meta | {"reply": output.reply.model_dump(mode="json", exclude={"reply"})},
            )
        record_turn(output.meta, (self._settings.LLM_PRICE_INPUT_PER_MTOK, self._settings.LLM_PRICE_OUTPUT_PER_MTOK))
        logger.info(
            "chat turn",
            extra={k: output.meta[k] for k in ("scenario", "action", "provider", "fallback", "latency_ms")},
        )
        return ChatResult(reply=output.reply, login_user_id=output.login_user_id, message_id=message_id)
