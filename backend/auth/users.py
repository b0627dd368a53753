"""fastapi-users wiring: user database adapter, user manager and the (revocable) JWT strategy.

The manager mails reset and verification tokens (``emails.py``) and schedules the operator's notice
of a new account (``notices.py``); its hooks log user ids only; tokens are never printed or logged.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from typing import Annotated, Any

import jwt
import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi_users import BaseUserManager, UUIDIDMixin, exceptions
from fastapi_users.authentication import JWTStrategy
from fastapi_users.jwt import decode_jwt, generate_jwt
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.emails import send_reset_token, send_verify_token
from backend.auth.exceptions import (
    AlreadyVerified,
    ResetTokenExpired,
    ResetTokenInvalid,
    VerifyTokenExpired,
    VerifyTokenInvalid,
)
from backend.auth.models import User
from backend.auth.notices import schedule_registration_notice
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.core.dependencies import DbSession, LimiterDep, RedisDep, SettingsDep
from backend.core.errors import Unprocessable
from backend.core.keys import Purpose, derive_secret
from backend.core.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

UserDatabase = SQLAlchemyUserDatabase[Any, Any]
MIN_PASSWORD, MAX_PASSWORD = 8, 128  # the same bounds as RegisterRequest


class FlushingUserDatabase(SQLAlchemyUserDatabase[Any, Any]):
    """fastapi-users' adapter commits on every write; ours only flushes, so a user created inside a
    request (or a chat turn) commits with the rest of its unit of work, or not at all."""

    async def create(self, create_dict: dict[str, Any]) -> Any:
        user = self.user_table(**create_dict)
        self.session.add(user)
        await self.session.flush()
        return user

    async def update(self, user: Any, update_dict: dict[str, Any]) -> Any:
        for key, value in update_dict.items():
            setattr(user, key, value)
        self.session.add(user)
        await self.session.flush()
        return user

    async def delete(self, user: Any) -> None:
        await self.session.delete(user)
        await self.session.flush()


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):  # type: ignore[type-var]
    """fastapi-users' manager with our keys, token lifetimes, e-mails and error codes.

    Reset and verification tokens are mailed through the project's mailer; a bad, used or expired
    token is an ``AppError`` with its own code (never fastapi-users' bare ``HTTPException``). The
    hooks log user ids only; tokens are never printed or logged.
    """

    settings: Settings
    session: AsyncSession
    limiter: RateLimiter | None = None
    redis: aioredis.Redis | None = None

    async def validate_password(self, password: str, user: Any) -> None:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise exceptions.InvalidPasswordException(
                reason=f"Пароль должен быть длиной от {MIN_PASSWORD} до {MAX_PASSWORD} символов."
            )

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.info("user registered", extra={"user_id": str(user.id)})
        schedule_registration_notice(self.session, self.settings, user.id)

    async def _mail_allowed(self, user: User, purpose: str) -> bool:
        """At most RATE_MAIL_LINK_ACCOUNT reset/verification mails per account (silently: the route's
        answer must not tell whether an account exists)."""
        if self.limiter is None:
            return True
        rule = RateLimiter.rule(self.settings.RATE_MAIL_LINK_ACCOUNT)
        return await self.limiter.hit(rule, "mail-link-account", purpose, str(user.id)) is None

    async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
        if not await self._mail_allowed(user, "reset"):
            logger.info("password reset mail limited", extra={"user_id": str(user.id)})
            return
        await send_reset_token(self.settings, user.email, token)
        logger.info("password reset requested", extra={"user_id": str(user.id)})

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
        if not await self._mail_allowed(user, "verify"):
            logger.info("verification mail limited", extra={"user_id": str(user.id)})
            return
        await send_verify_token(self.settings, user.email, token)
        logger.info("verification requested", extra={"user_id": str(user.id)})

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        """A new password logs the account out everywhere (once the change has committed)."""
        logger.info("password reset", extra={"user_id": str(user.id)})
        redis, user_id = self.redis, user.id
        if redis is not None:

            async def log_out_everywhere() -> None:
                await jwt_strategy(self.settings, redis).revoke_all(user_id)

            after_commit(self.session, log_out_everywhere)

    @staticmethod
    def _expired(token: str, secret: str, audience: str) -> bool:
        """Whether ``token`` is one of ours (good signature and audience) that has expired."""
        try:
            decode_jwt(token, secret, [audience])
        except jwt.ExpiredSignatureError:
            return True
        except jwt.PyJWTError:
            return False
        return False

    async def reset_password(self, token: str, password: str, request: Request | None = None) -> User:
        if self._expired(token, str(self.reset_password_token_secret), self.reset_password_token_audience):
            raise ResetTokenExpired
        try:
            return await super().reset_password(token, password, request)
        except (exceptions.InvalidResetPasswordToken, exceptions.UserNotExists, exceptions.UserInactive) as exc:
            raise ResetTokenInvalid from exc
        except exceptions.InvalidPasswordException as exc:
            raise Unprocessable(str(exc.reason), error_code="INVALID_PASSWORD") from exc

    async def verify(self, token: str, request: Request | None = None) -> User:
        if self._expired(token, str(self.verification_token_secret), self.verification_token_audience):
            raise VerifyTokenExpired
        try:
            return await super().verify(token, request)
        except (exceptions.InvalidVerifyToken, exceptions.UserNotExists) as exc:
            raise VerifyTokenInvalid from exc
        except exceptions.UserAlreadyVerified as exc:
            raise AlreadyVerified from exc


def make_user_manager(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter | None = None,
    redis: aioredis.Redis | None = None,
) -> UserManager:
    """``limiter`` caps reset/verification mails per account; ``redis`` lets a password reset revoke
    the account's JWTs (both come with HTTP requests; the funnel needs neither)."""
    manager = UserManager(FlushingUserDatabase(session, User))
    manager.settings = settings
    manager.session = session
    manager.limiter = limiter
    manager.redis = redis
    manager.reset_password_token_secret = derive_secret(settings, Purpose.RESET)
    manager.reset_password_token_lifetime_seconds = settings.RESET_TOKEN_LIFETIME_SECONDS
    manager.verification_token_secret = derive_secret(settings, Purpose.VERIFY)
    manager.verification_token_lifetime_seconds = settings.VERIFY_TOKEN_LIFETIME_SECONDS
    return manager


DENYLIST_PREFIX = "leadinc:jwt:denied:"  # + jti: a logged-out token, kept until it would expire
REVOKED_BEFORE_PREFIX = "leadinc:jwt:revoked-before:"  # + user id: "log out everywhere" time


class RevocableJWTStrategy(JWTStrategy[User, uuid.UUID]):  # type: ignore[type-var]
    """fastapi-users' JWT strategy plus revocation in Redis.

    Every token carries a random ``jti`` and its issue time ``iat``. ``destroy_token`` (logout) puts
    the ``jti`` on a denylist until the token's ``exp``; ``revoke_all`` (log out everywhere) records a
    time before which every token of that user is refused. A token without ``jti`` is refused.
    """

    def __init__(self, redis: aioredis.Redis, secret: str, lifetime_seconds: int) -> None:
        super().__init__(secret=secret, lifetime_seconds=lifetime_seconds)
        self._redis = redis

    def claims(self, token: str | None) -> dict[str, Any] | None:
        if not token:
            return None
        try:
            return decode_jwt(token, self.decode_key, self.token_audience, algorithms=[self.algorithm])
        except jwt.PyJWTError:
            return None

    async def write_token(self, user: User) -> str:
        data = {"sub": str(user.id), "aud": self.token_audience, "jti": secrets.token_urlsafe(16), "iat": time.time()}
        return generate_jwt(data, self.encode_key, self.lifetime_seconds, algorithm=self.algorithm)

    async def read_token(self, token: str | None, user_manager: BaseUserManager[User, uuid.UUID]) -> User | None:  # type: ignore[type-var]
        claims = self.claims(token)
        if claims is None or not claims.get("jti") or not claims.get("sub"):
            return None
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(DENYLIST_PREFIX + str(claims["jti"]))
            pipe.get(REVOKED_BEFORE_PREFIX + str(claims["sub"]))
            denied, revoked_before = await pipe.execute()
        if denied or (revoked_before is not None and float(claims.get("iat") or 0) <= float(revoked_before)):
            return None
        try:
            return await user_manager.get(user_manager.parse_id(claims["sub"]))
        except (exceptions.UserNotExists, exceptions.InvalidID):
            return None

    async def destroy_token(self, token: str, user: User | None = None) -> None:
        claims = self.claims(token)
        if claims is None or not claims.get("jti"):
            return
        ttl = int(float(claims.get("exp") or 0) - time.time()) + 1
        if ttl > 0:
            await self._redis.set(DENYLIST_PREFIX + str(claims["jti"]), "1", ex=ttl)

    async def revoke_all(self, user_id: uuid.UUID) -> None:
        await self._redis.set(REVOKED_BEFORE_PREFIX + str(user_id), repr(time.time()), ex=self.lifetime_seconds or 1)


def jwt_strategy(settings: Settings, redis: aioredis.Redis) -> RevocableJWTStrategy:
    return RevocableJWTStrategy(redis, derive_secret(settings, Purpose.JWT), settings.JWT_LIFETIME_SECONDS)


async def get_user_manager(
    settings: SettingsDep, session: DbSession, limiter: LimiterDep, redis: RedisDep
) -> UserManager:
    return make_user_manager(session, settings, limiter, redis)


UserManagerDep = Annotated[UserManager, Depends(get_user_manager)]
