"""The chat endpoints' one dependency.

``chat_call`` opens the request's unit of work, reads the caller and their session and counts the chat
limits, then yields everything the endpoint needs. It does what ``DbSession``, ``CurrentUserOptional``,
``CurrentSession`` and ``ChatRateLimited`` do for other routes (the same functions, in the same order),
as one dependency: FastAPI visited 60 dependency nodes per ``/ai/chat`` request through those (most of
them cached, each visit still paid for), measurable on the busiest endpoint (BENCHMARKS.md, "Turn cost").

It also takes the session's turn lock, released when the unit of work ends (a stream hands it over to
its turn): for a session the request simply resumes, the state, the limits and the lock are one Redis
round trip (``TurnLock.open``); otherwise the same steps one by one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from backend.assistant.context import Caller
from backend.auth.dependencies import read_user, resolve_session
from backend.auth.models import User
from backend.auth.sessions import SessionState, SessionStore
from backend.chat.service import ChatService, build_caller
from backend.chat.turns import HeldTurn
from backend.core.client_ip import request_ip
from backend.core.config import Settings
from backend.core.database import on_close, unit_of_work
from backend.core.ratelimit import RateLimiter
from backend.limits.dependencies import chat_limits, enforce_chat_limits
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
    turn: HeldTurn  # the session's turn lock, held until the unit of work ends (or handed over)


async def chat_call(request: Request, response: Response, service: ChatServiceDep) -> AsyncIterator[ChatCall]:
    app = request.app.state
    settings, redis, limiter = app.settings, app.redis, app.limiter
    store = SessionStore(redis, settings.SESSION_TTL_SECONDS)
    # ``async with``: the route's exception reaches the unit of work (rollback, on-close callbacks) now.
    async with unit_of_work(app.db_factory) as db:
        user = await read_user(request, settings, db, redis, limiter)
        state, turn = await _open_turn(request, response, settings, db, store, user, limiter, service)
        on_close(db, turn.lock.release)  # with the turn's state after the commit, or alone after a rollback
        call = ChatCall(db, settings, state, build_caller(user, settings), service, store, app.runtime.voice, turn)
        yield call


async def _open_turn(
    request: Request,
    response: Response,
    settings: Settings,
    db: AsyncSession,
    store: SessionStore,
    user: User | None,
    limiter: RateLimiter,
    service: ChatService,
) -> tuple[SessionState, HeldTurn]:
    """The caller's session, the chat limits counted, and the session's turn lock taken."""
    ip = request_ip(request, settings)
    sid = request.cookies.get(settings.SESSION_COOKIE_NAME)
    if sid and len(sid) <= 128:  # a session to resume, as ``resolve_session`` would: one round trip
        lock = service.turn_lock(sid)
        user_id = str(user.id) if user is not None else ""
        opened = await lock.open(store.key(sid), user_id, limiter, chat_limits(settings, sid, user, ip))
        if opened is not None:
            found, stored = opened
            state = store.parse(sid, found)
            assert state is not None  # ``open`` answers only for a stored state
            return state, HeldTurn(lock, stored)
    # The long way: no session or an expired one, a sign-in to finish, another user's session.
    state = await resolve_session(request, response, settings, db, store, user, limiter)
    await enforce_chat_limits(limiter, settings, state.sid, user, ip)
    lock = service.turn_lock(state.sid)
    return state, HeldTurn(lock, await lock.acquire(read=store.key(state.sid)))


# Function scope, like DbSession: the unit of work commits before the response is sent.
ChatCallDep = Annotated[ChatCall, Depends(chat_call, scope="function")]
