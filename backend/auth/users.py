"""fastapi-users wiring: user database adapter, user manager and the JWT strategy.

The manager's hooks log user ids only; tokens are never printed or logged.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi_users import BaseUserManager, UUIDIDMixin
from fastapi_users.authentication import JWTStrategy
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import User
from backend.core.config import Settings
from backend.core.dependencies import DbSession, SettingsDep

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
    manager.reset_password_token_secret = settings.SECRET
    manager.verification_token_secret = settings.SECRET
    return manager


def jwt_strategy(settings: Settings) -> JWTStrategy[User, uuid.UUID]:  # type: ignore[type-var]
    return JWTStrategy(secret=settings.SECRET, lifetime_seconds=settings.JWT_LIFETIME_SECONDS)


def get_user_manager(settings: SettingsDep, session: DbSession) -> UserManager:
    return make_user_manager(session, settings)


UserManagerDep = Annotated[UserManager, Depends(get_user_manager)]
