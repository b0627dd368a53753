"""/ai/chat and /ai/chat/stream: HTTP and SSE around ChatService. Nothing else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from backend.assistant.contract import AudioRef, Reply
from backend.auth import service as auth_service
from backend.auth.cookies import carry_cookies
from backend.auth.dependencies import CurrentSession, SessionStoreDep
from backend.auth.sessions import SessionState
from backend.chat.dependencies import CallerDep, ChatServiceDep
from backend.chat.schemas import ChatRequest
from backend.core.dependencies import DbSession, SettingsDep
from backend.core.error_handlers import classify
from backend.core.openapi import error_responses
from backend.limits.dependencies import ChatRateLimited
from backend.voice.dependencies import VoiceServiceDep
from backend.voice.service import VoiceService

router = APIRouter(prefix="/ai", tags=["chat"])

_LIMITED = error_responses(429, descriptions={429: "FLOOD_LIMIT, DAILY_LIMIT or OFFTOPIC_LIMIT (Retry-After)"})


async def _spoken(reply: Reply, voice: VoiceService, state: SessionState, audio_format: str) -> Reply:
    """Start ``voice.tts`` for the reply's text (its rows must be committed) and point ``audio`` at it."""
    accepted = await voice.start(voice.plan_speech(reply.reply, state, audio_format), state)
    return reply.model_copy(update={"audio": AudioRef(task_id=accepted.task_id, status_url=accepted.status_url)})


@router.post("/chat", response_model=Reply, dependencies=[ChatRateLimited], responses=_LIMITED)
async def chat(
    body: ChatRequest,
    response: Response,
    state: CurrentSession,
    caller: CallerDep,
    service: ChatServiceDep,
    store: SessionStoreDep,
    db: DbSession,
    settings: SettingsDep,
    voice: VoiceServiceDep,
) -> Reply:
    result = await service.handle(body.message, state, caller)
    reply = result.reply
    if result.login_user_id is not None:
        state = await auth_service.sign_in_by_id(response, result.login_user_id, state.sid, store, db, settings)
    if body.voice:
        await db.commit()  # the session rows exist before the speech task can run
        reply = await _spoken(reply, voice, state, body.audio_format)
    return reply


@router.post(
    "/chat/stream",
    dependencies=[ChatRateLimited],
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "delta events, then one message event"},
        **_LIMITED,
    },
)
async def chat_stream(
    body: ChatRequest,
    response: Response,
    state: CurrentSession,
    caller: CallerDep,
    service: ChatServiceDep,
    voice: VoiceServiceDep,
) -> EventSourceResponse:
    queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()

    async def sink(text: str) -> None:
        await queue.put(ServerSentEvent(data=json.dumps({"text": text}, ensure_ascii=False), event="delta"))

    async def run_turn() -> None:
        try:
            result = await service.handle(body.message, state, caller, sink)
            if result.login_user_id is not None:
                state.data["pending_login_user_id"] = str(result.login_user_id)
                await service.save_state(state)
            reply = result.reply
            if body.voice:  # the session row is committed (CurrentSession), so the task may start now
                reply = await _spoken(reply, voice, state, body.audio_format)
            payload = reply.model_dump(mode="json")
            await queue.put(ServerSentEvent(data=json.dumps(payload, ensure_ascii=False), event="message"))
        except Exception as exc:  # headers are sent: report in the error shape, never end the stream silently
            _, error, _ = classify(exc, "/ai/chat/stream", "POST")
            await queue.put(ServerSentEvent(data=json.dumps(error, ensure_ascii=False), event="error"))
        finally:
            await queue.put(None)

    async def events() -> AsyncIterator[ServerSentEvent]:
        task = asyncio.create_task(run_turn())
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            if not task.done():  # the client went away: cancel the model call
                task.cancel()

    stream = EventSourceResponse(events(), ping=15, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"})
    return carry_cookies(response, stream)
