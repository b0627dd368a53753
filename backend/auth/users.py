"""fastapi-users wiring: user database adapter, user manager and the (revocable) JWT strategy.

The manager's hooks log user ids only; tokens are never printed or logged.
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

from backend.auth.models import User
from backend.core.config import Settings
from backend.core.dependencies import DbSession, SettingsDep
from backend.core.keys import Purpose, derive_secret

logger = logging.getLogger(__name__)

UserDatabase = SQLAlchemyUserDatabase[Any, Any]


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
    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.info("user registered", extra={"user_id": str(user.id)})

    async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
        logger.info("password reset requested", extra={"user_id": str(user.id)})

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
        logger.info("verification requested", extra={"user_id": str(user.id)})


def make_user_manager(session: AsyncSession, settings: Settings) -> UserManager:
    manager = UserManager(FlushingUserDatabase(session, User))
    manager.reset_password_token_secret = derive_secret(settings, Purpose.RESET)
    manager.verification_token_secret = derive_secret(settings, Purpose.VERIFY)
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


def get_user_manager(settings: SettingsDep, session: DbSession) -> UserManager:
    return make_user_manager(session, settings)


UserManagerDep = Annotated[UserManager, Depends(get_user_manager)]
