"""The chat endpoints' one dependency.

``chat_call`` opens the request's unit of work, reads the caller and their session and counts the chat
limits, then yields everything the endpoint needs. It does what ``DbSession``, ``CurrentUserOptional``,
``CurrentSession`` and ``ChatRateLimited`` do for other routes (the same functions, in the same order),
as one dependency: FastAPI visited 60 dependency nodes per ``/ai/chat`` request through those (most of
them cached, each visit still paid for), measurable on the busiest endpoint (BENCHMARKS.md, "Turn cost")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from backend.assistant.context import Caller
from backend.auth.dependencies import read_user, resolve_session
from backend.auth.sessions import SessionState, SessionStore
from backend.chat.service import ChatService, build_caller
from backend.core.client_ip import request_ip
from backend.core.config import Settings
from backend.core.database import unit_of_work
from backend.limits.dependencies import enforce_chat_limits
from backend.voice.service import VoiceService


async def get_chat_service(request: Request) -> ChatService:
    service: ChatService = request.app.state.runtime.chat_service()
    return service


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]


@dataclass(frozen=True)
class ChatCall:
    db: AsyncSession  # the request's unit of work: it commits before the response is sent
    settings: Settings
    state: SessionState
    caller: Caller
    service: ChatService
    store: SessionStore
    voice: VoiceService


async def chat_call(request: Request, response: Response, service: ChatServiceDep) -> AsyncIterator[ChatCall]:
    app = request.app.state
    settings, redis, limiter = app.settings, app.redis, app.limiter
    store = SessionStore(redis, settings.SESSION_TTL_SECONDS)
    # ``async with``: the route's exception reaches the unit of work (rollback, on-close callbacks) now.
    async with unit_of_work(app.db_factory) as db:
        user = await read_user(request, settings, db, redis, limiter)
        state = await resolve_session(request, response, settings, db, store, user, limiter)
        await enforce_chat_limits(limiter, settings, state.sid, user, request_ip(request, settings))
        yield ChatCall(db, settings, state, build_caller(user, settings), service, store, app.runtime.voice)


# Function scope, like DbSession: the unit of work commits before the response is sent.
ChatCallDep = Annotated[ChatCall, Depends(chat_call, scope="function")]
