"""Account rules: register, log in by password or one-time code, build the profile."""

from __future__ import annotations

import hashlib
import logging
import uuid

from fastapi import Response
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import exceptions as fu_exceptions
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.accounts import AccountService, access_of
from backend.auth.cookies import set_auth_cookie, set_session_cookie
from backend.auth.exceptions import InvalidCredentials
from backend.auth.mailer import CodeMailer
from backend.auth.models import User
from backend.auth.schemas import LoginRequest, UserProfile
from backend.auth.sessions import SessionState, SessionStore
from backend.auth.users import UserManager, jwt_strategy, make_user_manager
from backend.codes.service import CodeService
from backend.core.config import Settings
from backend.core.errors import ServiceUnavailable, TooManyRequests
from backend.core.ratelimit import Limit, RateLimiter

logger = logging.getLogger(__name__)


async def register(db: AsyncSession, settings: Settings, email: str, password: str) -> User:
    """Password sign-up through the shared account service: the new account gets its trial."""
    return await AccountService(db, settings).register_with_password(email, password)


async def enforce_login_limits(limiter: RateLimiter, settings: Settings, email: str, ip: str) -> None:
    """Count one login attempt per account and per client IP, before anything is checked.

    The account is keyed by a hash of the e-mail as typed (normalised), whether or not such an
    account exists, and the answer past the limit is the same either way: the limit reveals nothing.
    Every attempt counts (not only failures), so concurrent guesses cannot slip past the check.
    """
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    detail = "Слишком много попыток входа. Попробуйте снова через {seconds} с."
    await limiter.enforce_all(
        [
            Limit(settings.RATE_LOGIN_IP, detail, "LOGIN_RATE_LIMITED", ("login-ip", ip)),
            Limit(settings.RATE_LOGIN_ACCOUNT, detail, "LOGIN_RATE_LIMITED", ("login-account", account)),
        ]
    )


async def enforce_new_session_limit(limiter: RateLimiter, settings: Settings, ip: str) -> None:
    """Count one new conversation session per client IP (each costs a Redis key until it expires)."""
    detail = "Слишком много новых сессий с вашего адреса. Попробуйте снова через {seconds} с."
    await limiter.enforce(settings.RATE_NEW_SESSION_IP, detail, "SESSION_RATE_LIMITED", "session-ip", ip)


async def enforce_code_request_limits(limiter: RateLimiter, settings: Settings, email: str, ip: str) -> None:
    """POST /auth/request-code: RATE_REQUEST_CODE_IP per client IP and RATE_REQUEST_CODE_CONTACT per
    e-mail, counted whether or not such an account exists (the limit reveals nothing)."""
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    detail = "Слишком много запросов кода. Попробуйте снова через {seconds} с."
    await limiter.enforce_all(
        [
            Limit(settings.RATE_REQUEST_CODE_IP, detail, "CODE_REQUEST_LIMIT", ("request-code-ip", ip)),
            Limit(settings.RATE_REQUEST_CODE_CONTACT, detail, "CODE_REQUEST_LIMIT", ("request-code-contact", account)),
        ]
    )


async def issue_login_code(db: AsyncSession, settings: Settings, codes: CodeService, email: str) -> str | None:
    """A login code for an existing active account, or None (no account, or the code service's own
    hourly limit). The caller answers the same either way and delivers the code after the response."""
    user = await AccountService(db, settings).find(email)
    if user is None or not user.is_active:
        return None
    try:
        return (await codes.issue(user.email)).code
    except TooManyRequests:
        logger.info("login code not issued: the contact's hourly code limit", extra={"user_id": str(user.id)})
        return None


async def deliver_code(mailer: CodeMailer, email: str, code: str) -> None:
    """Send a login code after the response (its timing must not tell whether the account exists)."""
    try:
        await mailer.send_code(email, code)
    except ServiceUnavailable:
        logger.warning("login code e-mail not delivered")


async def authenticate(manager: UserManager, codes: CodeService, body: LoginRequest) -> User:
    if body.password is not None:
        form = OAuth2PasswordRequestForm(username=body.email, password=body.password)
        user = await manager.authenticate(form)
    else:
        await codes.verify(body.email, body.code or "")
        try:
            user = await manager.get_by_email(body.email)
        except fu_exceptions.UserNotExists as exc:
            raise InvalidCredentials("Аккаунт с таким e-mail не найден.") from exc
    if user is None or not user.is_active:
        raise InvalidCredentials
    return user


def has_analytics_access(user: User, settings: Settings) -> bool:
    """An active trial or subscription, or an e-mail in SUBSCRIPTION_WHITELIST."""
    return access_of(user, settings).open


def profile(user: User, settings: Settings) -> UserProfile:
    return UserProfile(
        id=user.id,
        email=user.email,
        login=user.login or user.email,
        city=user.city,
        niche=user.niche,
        trial_ends_at=user.trial_ends_at,
        subscription_ends_at=user.subscription_ends_at,
        has_access=has_analytics_access(user, settings),
    )


async def sign_in(
    response: Response,
    user: User,
    old_sid: str | None,
    store: SessionStore,
    db: AsyncSession,
    settings: Settings,
    current: SessionState | None = None,
) -> SessionState:
    """Set the JWT cookie and move the conversation to a new session id (no session fixation)."""
    set_auth_cookie(response, settings, await jwt_strategy(settings, store.redis).write_token(user))
    state = await store.rotate(db, old_sid, user.id, current)
    set_session_cookie(response, settings, state.sid)
    return state


async def sign_in_by_id(
    response: Response,
    user_id: uuid.UUID,
    old_sid: str | None,
    store: SessionStore,
    db: AsyncSession,
    settings: Settings,
    current: SessionState | None = None,
) -> SessionState:
    user = await make_user_manager(db, settings).get(user_id)
    return await sign_in(response, user, old_sid, store, db, settings, current)
