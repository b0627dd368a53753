"""The funnel's account side: create or attach the user, start the trial, move the history."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from fastapi_users import exceptions as fu_exceptions
from fastapi_users import schemas as fu_schemas
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.users import make_user_manager
from backend.chat import repository
from backend.core.config import Settings
from backend.core.orm import utcnow
from backend.metrics.instruments import record_funnel


class FunnelAccounts:
    def __init__(self, db_factory: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._db_factory = db_factory
        self._settings = settings

    async def register_from_funnel(
        self, chat_session_id: uuid.UUID, email: str, city: str | None, niche: str | None
    ) -> tuple[uuid.UUID, datetime | None]:
        async with self._db_factory() as db:  # fastapi-users commits on create, so no outer begin()
            manager = make_user_manager(db, self._settings)
            try:
                user = await manager.get_by_email(email)
            except fu_exceptions.UserNotExists:
                # The funnel signs in by one-time code; a random password keeps the account closed to guessing.
                create = fu_schemas.BaseUserCreate(email=email, password=secrets.token_urlsafe(32), is_verified=True)
                user = await manager.create(create)
            if user.trial_ends_at is None:
                user.trial_ends_at = utcnow() + timedelta(days=self._settings.TRIAL_DAYS)
            user.is_verified = True
            user.city = city or user.city
            user.niche = niche or user.niche
            db.add(user)
            await repository.move_history_to_user(db, chat_session_id, user.id)
            await repository.update_session_fields(db, chat_session_id, contact=email, city=city, niche=niche)
            await db.commit()
            return user.id, user.trial_ends_at

    async def record_transition(self, chat_session_id: uuid.UUID, from_stage: int | None, to_stage: int | None) -> None:
        async with self._db_factory() as db, db.begin():
            await repository.add_funnel_event(db, chat_session_id, from_stage, to_stage)
            await repository.update_session_fields(db, chat_session_id, funnel_stage=to_stage)
        record_funnel(from_stage, to_stage)
