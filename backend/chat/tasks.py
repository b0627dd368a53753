"""Chat tasks on the ``text`` queue: one turn through the same ChatService as /ai/chat.

``chat.process_text(stt_result, sid)`` is the middle step of the voice chain
(stt → process_text → tts) and returns ``{"transcript", "reply"}``.
``chat.retention()`` deletes guest conversations older than RETENTION_GUEST_DAYS (beat, daily).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from backend.auth.models import User
from backend.auth.sessions import SessionStore
from backend.chat.retention import purge_guest_history
from backend.chat.service import build_caller
from backend.core.celery import app_of, task
from backend.core.errors import NotFound
from backend.runtime import Runtime, build_runtime
from backend.voice.constants import TASK_LIMITS

_LIMITS = TASK_LIMITS["chat.process_text"]


async def _turn(runtime: Runtime, text: str, sid: str) -> dict[str, Any]:
    store = SessionStore(runtime.redis, runtime.settings.SESSION_TTL_SECONDS)
    state = await store.load(sid)
    if state is None:
        raise NotFound("Сессия истекла — отправьте сообщение ещё раз.", error_code="SESSION_EXPIRED")
    user = None
    if state.user_id is not None:
        async with runtime.db_factory() as db:
            user = await db.get(User, state.user_id)
    result = await runtime.chat_service().handle(text, state, build_caller(user, runtime.settings))
    if result.login_user_id is not None:  # registered by voice: the next request picks up the cookie
        state.data["pending_login_user_id"] = str(result.login_user_id)
        await store.save(state)
    return {"transcript": text, "reply": result.reply.model_dump(mode="json")}


@task("chat.process_text", soft_time_limit=_LIMITS.soft_seconds, time_limit=_LIMITS.hard_seconds)
def process_text(self: Any, stt_result: dict[str, Any], sid: str) -> dict[str, Any]:
    app = app_of(self)
    loop: asyncio.AbstractEventLoop = app.resource("event_loop", asyncio.new_event_loop)
    runtime: Runtime = app.resource("runtime", lambda: loop.run_until_complete(build_runtime(app.settings)))
    text = str(stt_result.get("text", "")).strip()
    return loop.run_until_complete(_turn(runtime, text, sid))


@task("chat.retention", soft_time_limit=600, time_limit=660)
def retention(self: Any) -> dict[str, int]:
    app = app_of(self)
    with app.db_session() as db:
        return asdict(purge_guest_history(db, app.settings.RETENTION_GUEST_DAYS))
