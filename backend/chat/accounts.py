"""The funnel's account side: create or attach the user, start the trial, move the history.

One ``FunnelAccounts`` per turn, bound to the turn's unit of work: it only flushes, so the account,
the history move and the stage change commit together with the turn's reply, or not at all.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from fastapi_users import exceptions as fu_exceptions
from fastapi_users import schemas as fu_schemas
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.users import make_user_manager
from backend.chat import repository
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.core.orm import utcnow
from backend.metrics.instruments import record_funnel


class FunnelAccounts:
    def __init__(self, db: AsyncSession, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    async def register_from_funnel(
        self, chat_session_id: uuid.UUID, email: str, city: str | None, niche: str | None
    ) -> tuple[uuid.UUID, datetime | None]:
        manager = make_user_manager(self._db, self._settings)  # its user database only flushes
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
        self._db.add(user)
        await repository.move_history_to_user(self._db, chat_session_id, user.id)
        await repository.update_session_fields(self._db, chat_session_id, contact=email, city=city, niche=niche)
        await self._db.flush()
        return user.id, user.trial_ends_at

    async def record_transition(self, chat_session_id: uuid.UUID, from_stage: int | None, to_stage: int | None) -> None:
        await repository.add_funnel_event(self._db, chat_session_id, from_stage, to_stage)
        await repository.update_session_fields(self._db, chat_session_id, funnel_stage=to_stage)

        async def count() -> None:
            record_funnel(from_stage, to_stage)

        after_commit(self._db, count)
