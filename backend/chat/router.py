"""/ai/chat and /ai/chat/stream: HTTP and SSE around ChatService; /ai/messages: the conversation's new
messages (a manager's replies during a handoff). Nothing else."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse, ServerSentEvent

from backend.assistant.contract import AudioRef, Reply
from backend.auth import service as auth_service
from backend.auth.cookies import carry_cookies
from backend.auth.dependencies import CurrentSession
from backend.auth.sessions import SessionState
from backend.chat.dependencies import ChatCallDep
from backend.chat.handoff import Handoff
from backend.chat.schemas import ChatRequest, NewMessages
from backend.chat.turns import HeldTurn
from backend.core.database import commit, unit_of_work
from backend.core.dependencies import DbSession, SettingsDep
from backend.core.error_handlers import classify
from backend.core.openapi import error_responses
from backend.voice.service import VoiceService

router = APIRouter(prefix="/ai", tags=["chat"])

_LIMITED = error_responses(
    409,
    429,
    descriptions={
        409: "TURN_IN_PROGRESS: the session's previous turn is still running",
        429: "FLOOD_LIMIT, DAILY_LIMIT or OFFTOPIC_LIMIT (Retry-After)",
    },
)


async def _spoken(db: AsyncSession, reply: Reply, voice: VoiceService, state: SessionState, audio_format: str) -> Reply:
    """Point ``audio`` at a ``voice.tts`` task for the reply's text, sent once the turn has committed."""
    task = voice.start_after_commit(db, await voice.plan_speech(db, reply.reply, state, audio_format), state)
    return reply.model_copy(update={"audio": AudioRef(task_id=task.task_id, status_url=task.status_url)})


@router.post("/chat", response_model=Reply, responses=_LIMITED)
async def chat(body: ChatRequest, response: Response, call: ChatCallDep) -> Reply:
    # One unit of work (ChatCallDep commits before the response goes out): a failure anywhere below
    # leaves neither the account nor the login cookie behind.
    db, settings = call.db, call.settings
    result = await call.service.handle(db, body.message, call.state, call.caller, turn=call.turn)
    reply, state = result.reply, result.state
    if result.login_user_id is not None:
        state = await auth_service.sign_in_by_id(
            response, result.login_user_id, state.sid, call.store, db, settings, state
        )
    if body.voice:
        reply = await _spoken(db, reply, call.voice, state, body.audio_format)
    return reply


def _event(kind: str, payload: object) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(payload, ensure_ascii=False), event=kind)


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "delta events (a reset event drops the text sent so far), then one message event",
        },
        **_LIMITED,
    },
)
async def chat_stream(
    request: Request, body: ChatRequest, response: Response, call: ChatCallDep
) -> EventSourceResponse:
    db, state, caller, service, voice = call.db, call.state, call.caller, call.service, call.voice
    queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()

    class Sink:
        async def delta(self, text: str) -> None:
            await queue.put(_event("delta", {"text": text}))

        async def reset(self) -> None:
            await queue.put(_event("reset", {}))

    # The session's turn lock was taken with the request (a busy session is a plain 409 before the stream
    # opens); the streamed turn holds it from here and releases it when it ends.
    turn = HeldTurn(call.turn.lock.hand_over(), call.turn.stored)
    try:
        # The request's own unit of work (a new session's row, a sign-in) ends here, before the turn's
        # unit of work starts in the background: the turn's rows reference it.
        await commit(db)
    except BaseException:
        await turn.lock.release()
        raise

    async def run_turn() -> None:
        try:
            async with unit_of_work(request.app.state.db_factory) as turn_db:
                result = await service.handle(turn_db, body.message, state, caller, Sink(), turn=turn)
                if result.login_user_id is not None:  # the next request signs in (the headers are sent)
                    result.state.data["pending_login_user_id"] = str(result.login_user_id)
                reply = result.reply
                if body.voice:
                    reply = await _spoken(turn_db, reply, voice, result.state, body.audio_format)
            await queue.put(_event("message", reply.model_dump(mode="json")))  # committed: the last word
        except Exception as exc:  # headers are sent: report in the error shape, never end the stream silently
            _, error, _ = classify(exc, "/ai/chat/stream", "POST")
            await queue.put(_event("error", error))
        finally:
            await turn.lock.release()  # after the commit, with the turn's state
            await queue.put(None)

    # Started here, not when the response starts iterating, so the lock is released even if it never does.
    task = asyncio.create_task(run_turn())

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            if not task.done():  # the client went away: cancel the model call
                task.cancel()

    stream = EventSourceResponse(events(), ping=15, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"})
    return carry_cookies(response, stream)


@router.get(
    "/messages",
    response_model=NewMessages,
    responses=error_responses(
        404,
        429,
        descriptions={
            404: "MESSAGE_NOT_FOUND: `after` is not a message of this conversation",
            429: "SESSION_RATE_LIMITED (a new session)",
        },
    ),
)
async def new_messages(
    state: CurrentSession,
    db: DbSession,
    settings: SettingsDep,
    after: Annotated[uuid.UUID | None, Query(description="id of the last message the page has")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NewMessages:
    """Messages of the caller's own conversation after ``after``: the chat page polls this about once a
    second while a human manager answers (handoff_state waiting or taken)."""
    return await Handoff(db, settings).new_messages(state.chat_session_id, after, limit)
