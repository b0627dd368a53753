"""fastapi-users wiring: user database adapter, user manager and the JWT strategy.

The manager's hooks log user ids only; tokens are never printed or logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi_users import BaseUserManager, UUIDIDMixin
from fastapi_users.authentication import JWTStrategy
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import User
from backend.core.config import Settings
from backend.core.dependencies import SettingsDep, get_db

logger = logging.getLogger(__name__)

UserDatabase = SQLAlchemyUserDatabase[Any, Any]


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):  # type: ignore[type-var]
    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.info("user registered", extra={"user_id": str(user.id)})

    async def on_after_forgot_password(self, user: User, token: str, request: Request | None = None) -> None:
        logger.info("password reset requested", extra={"user_id": str(user.id)})

    async def on_after_request_verify(self, user: User, token: str, request: Request | None = None) -> None:
        logger.info("verification requested", extra={"user_id": str(user.id)})


def make_user_manager(session: AsyncSession, settings: Settings) -> UserManager:
    manager = UserManager(SQLAlchemyUserDatabase(session, User))  # type: ignore[type-var]
    manager.reset_password_token_secret = settings.SECRET
    manager.verification_token_secret = settings.SECRET
    return manager


def jwt_strategy(settings: Settings) -> JWTStrategy[User, uuid.UUID]:  # type: ignore[type-var]
    return JWTStrategy(secret=settings.SECRET, lifetime_seconds=settings.JWT_LIFETIME_SECONDS)


async def get_user_manager(
    settings: SettingsDep, session: AsyncSession = Depends(get_db)
) -> AsyncIterator[UserManager]:
    yield make_user_manager(session, settings)


UserManagerDep = Annotated[UserManager, Depends(get_user_manager)]
