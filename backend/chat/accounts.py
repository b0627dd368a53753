"""The funnel's account side: create or attach the user (or sign in an existing one), move the history.

The account rules (the trial once per account, the access status) are ``backend.auth.accounts``'s.

One ``FunnelAccounts`` per turn, bound to the turn's unit of work: it only flushes, so the account,
the history move and the stage change commit together with the turn's reply, or not at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from backend.assistant.ports import FunnelAccount
from backend.auth.accounts import AccountService
from backend.chat import repository
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.metrics.instruments import record_funnel


class FunnelAccounts:
    def __init__(self, db: AsyncSession, settings: Settings) -> None:
        self._db = db
        self._accounts = AccountService(db, settings)

    async def register_from_funnel(
        self, chat_session_id: uuid.UUID, email: str, city: str | None, niche: str | None
    ) -> tuple[uuid.UUID, datetime | None]:
        user = await self._accounts.create_or_attach(email, city=city, niche=niche, session_id=chat_session_id)
        await repository.move_history_to_user(self._db, chat_session_id, user.id)
        await repository.update_session_fields(self._db, chat_session_id, contact=email, city=city, niche=niche)
        await self._db.flush()
        return user.id, user.trial_ends_at

    async def sign_in_from_funnel(self, chat_session_id: uuid.UUID, email: str) -> FunnelAccount | None:
        user = await self._accounts.verified_login(email)
        if user is None:
            return None
        await repository.move_history_to_user(self._db, chat_session_id, user.id)
        await repository.update_session_fields(
            self._db, chat_session_id, contact=user.email, city=user.city, niche=user.niche
        )
        await self._db.flush()
        access = self._accounts.access(user)
        return FunnelAccount(
            user_id=user.id,
            email=user.email,
            city=user.city,
            niche=user.niche,
            access=access.state.value,
            access_until=access.until,
        )

    async def record_transition(self, chat_session_id: uuid.UUID, from_stage: int | None, to_stage: int | None) -> None:
        await repository.add_funnel_event(self._db, chat_session_id, from_stage, to_stage)
        await repository.update_session_fields(self._db, chat_session_id, funnel_stage=to_stage)

        async def count() -> None:
            record_funnel(from_stage, to_stage)

        after_commit(self._db, count)
