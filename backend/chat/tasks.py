"""Chat tasks on the ``text`` queue: one turn through the same ChatService as /ai/chat.

``chat.process_text(stt_result, sid)`` is the middle step of the voice chain
(stt → process_text → tts) and returns ``{"transcript", "reply"}``.
``chat.handoff_notice(session_id, reason)`` mails ``ADMIN_EMAIL`` that a visitor waits for a manager
(SMTP failures retried with backoff, like ``auth.registration_notice``).
``chat.handoff_timeouts()`` (beat, every minute) tells visitors waiting for a manager longer than
``HANDOFF_TIMEOUT_MINUTES`` when the team answers.
``chat.retention()`` deletes guest conversations older than RETENTION_GUEST_DAYS (beat, daily).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any, Protocol

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.models import User
from backend.auth.sessions import SessionStore
from backend.auth.tasks import NOTICE_OPTIONS
from backend.chat import repository
from backend.chat.handoff import tell_overdue
from backend.chat.notices import NOTICE_TASK, send_handoff_notice
from backend.chat.retention import purge_guest_history
from backend.chat.service import ChatService, build_caller
from backend.core.celery import app_of, task
from backend.core.config import Settings
from backend.core.database import unit_of_work
from backend.core.errors import NotFound
from backend.core.orm import utcnow
from backend.voice.constants import TASK_LIMITS

_LIMITS = TASK_LIMITS["chat.process_text"]
_TURN_WAIT_SECONDS = _LIMITS.soft_seconds / 3  # a voice message queues behind a typed turn, within its time limit


class ChatRuntime(Protocol):
    """What a chat task needs from the process's runtime (built by the composition root)."""

    settings: Settings
    redis: aioredis.Redis
    db_factory: async_sessionmaker[AsyncSession]

    def chat_service(self) -> ChatService: ...


async def _turn(runtime: ChatRuntime, text: str, sid: str) -> dict[str, Any]:
    settings = runtime.settings
    store = SessionStore(runtime.redis, settings.SESSION_TTL_SECONDS)
    state = await store.load(sid)
    if state is None:
        raise NotFound("Сессия истекла — отправьте сообщение ещё раз.", error_code="SESSION_EXPIRED")
    async with unit_of_work(runtime.db_factory) as db:
        user = await db.get(User, state.user_id) if state.user_id is not None else None
        result = await runtime.chat_service().handle(
            db, text, state, build_caller(user, settings), wait_seconds=_TURN_WAIT_SECONDS
        )
        if result.login_user_id is not None:  # registered by voice: the next request picks up the cookie
            result.state.data["pending_login_user_id"] = str(result.login_user_id)
    return {"transcript": text, "reply": result.reply.model_dump(mode="json")}


@task("chat.process_text", soft_time_limit=_LIMITS.soft_seconds, time_limit=_LIMITS.hard_seconds)
def process_text(self: Any, stt_result: dict[str, Any], sid: str) -> dict[str, Any]:
    app = app_of(self)
    loop = app.loop
    runtime: ChatRuntime = app.runtime(loop)
    text = str(stt_result.get("text", "")).strip()
    return loop.run_until_complete(_turn(runtime, text, sid))


@task("chat.retention", soft_time_limit=600, time_limit=660)
def retention(self: Any) -> dict[str, int]:
    app = app_of(self)
    with app.db_session() as db:
        return asdict(purge_guest_history(db, app.settings.RETENTION_GUEST_DAYS))


@task(NOTICE_TASK, **NOTICE_OPTIONS)
def handoff_notice(self: Any, session_id: str, reason: str) -> dict[str, Any]:
    app = app_of(self)
    settings = app.settings
    if not settings.ADMIN_EMAIL:
        return {"sent": False, "reason": "ADMIN_EMAIL is not set"}
    with app.db_session() as db:
        facts = repository.handoff_facts(db, uuid.UUID(session_id))
    if facts is None:
        return {"sent": False, "reason": "the conversation no longer exists"}
    contact, text = facts
    loop = app.loop
    loop.run_until_complete(
        send_handoff_notice(settings, session_id=session_id, contact=contact, reason=reason, text=text, at=utcnow())
    )
    return {"sent": True}


@task("chat.handoff_timeouts", soft_time_limit=60, time_limit=90)
def handoff_timeouts(self: Any) -> dict[str, int]:
    app = app_of(self)
    with app.db_session() as db:
        return {"told": tell_overdue(db, app.settings)}
