"""Who is calling: the optional current user (JWT cookie) and the conversation session.

``read_user`` and ``resolve_session`` do the work; the dependencies below wrap them for most routes,
and the chat endpoints call them from their one dependency (``chat.dependencies.chat_call``)."""

from __future__ import annotations

import uuid
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.cookies import set_session_cookie
from backend.auth.models import User
from backend.auth.service import enforce_new_session_limit, sign_in_by_id
from backend.auth.sessions import SessionState, SessionStore
from backend.auth.users import jwt_strategy, make_user_manager
from backend.core.client_ip import request_ip
from backend.core.config import Settings
from backend.core.dependencies import DbSession, LimiterDep, RedisDep, SettingsDep
from backend.core.ratelimit import RateLimiter


async def read_user(
    request: Request, settings: Settings, db: AsyncSession, redis: aioredis.Redis, limiter: RateLimiter
) -> User | None:
    """The active user named by the JWT cookie, or None (no cookie, a revoked or expired token)."""
    token = request.cookies.get(settings.AUTH_COOKIE_NAME)
    if not token:
        return None
    manager = make_user_manager(db, settings, limiter, redis)
    user = await jwt_strategy(settings, redis).read_token(token, manager)
    return user if user is not None and user.is_active else None


async def current_user_optional(
    request: Request, settings: SettingsDep, db: DbSession, redis: RedisDep, limiter: LimiterDep
) -> User | None:
    return await read_user(request, settings, db, redis, limiter)


CurrentUserOptional = Annotated[User | None, Depends(current_user_optional)]


async def get_session_store(redis: RedisDep, settings: SettingsDep) -> SessionStore:
    return SessionStore(redis, settings.SESSION_TTL_SECONDS)


SessionStoreDep = Annotated[SessionStore, Depends(get_session_store)]


async def resolve_session(
    request: Request,
    response: Response,
    settings: Settings,
    db: AsyncSession,
    store: SessionStore,
    user: User | None,
    limiter: RateLimiter,
) -> SessionState:
    """The caller's session; a missing or expired one is replaced transparently and the cookie set.

    A new session is limited per client IP (429 SESSION_RATE_LIMITED) and lives in Redis only until
    it says something (no database row for a visitor who only opened the page)."""
    sid = request.cookies.get(settings.SESSION_COOKIE_NAME)
    state = await store.resume_or_create(db, sid, user.id if user else None)
    pending = state.data.pop("pending_login_user_id", None)
    if pending and user is None:  # the funnel registered this visitor during a streamed or voice turn
        state = await sign_in_by_id(response, uuid.UUID(pending), state.sid, store, db, settings, state)
    elif state.is_new:
        await enforce_new_session_limit(limiter, settings, request_ip(request, settings))
        set_session_cookie(response, settings, state.sid)
    # No commit here: the request's unit of work writes the new session to Redis; its row comes with
    # its first message or upload (``ensure_stored``).
    return state


async def current_session(
    request: Request,
    response: Response,
    settings: SettingsDep,
    db: DbSession,
    store: SessionStoreDep,
    user: CurrentUserOptional,
    limiter: LimiterDep,
) -> SessionState:
    return await resolve_session(request, response, settings, db, store, user, limiter)


CurrentSession = Annotated[SessionState, Depends(current_session)]


async def limit_mail_links_per_ip(request: Request, limiter: LimiterDep, settings: SettingsDep) -> None:
    """RATE_MAIL_LINK_IP calls per client IP on the reset and verification routes (then 429)."""
    ip = request_ip(request, settings)
    detail = "Слишком много запросов сброса пароля или подтверждения. Попробуйте через {seconds} с."
    await limiter.enforce(settings.RATE_MAIL_LINK_IP, detail, "MAIL_LINK_RATE_LIMITED", "mail-link-ip", ip)
