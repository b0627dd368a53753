"""Account management rules, shared by the admin API and the CLI (``python -m scripts.users``).

Methods only flush; the caller's unit of work commits. An erasure deletes the rows first and the
files and Redis states only after the commit (``after_commit``), so a failed commit leaves nothing
half-erased on disk; the returned report is complete once the unit of work has committed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from backend.admin import repository
from backend.admin.exceptions import UserNotFound
from backend.admin.schemas import DeletionReport, UserDetail, UserList, UserSummary
from backend.auth.models import User
from backend.auth.service import has_analytics_access
from backend.auth.sessions import SessionStore
from backend.chat.retention import RetentionReport, delete_conversations
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.core.orm import utcnow
from backend.leads.repository import delete_events_of_user
from backend.voice.exceptions import MediaStoreUnavailable
from backend.voice.media.factory import build_storage

logger = logging.getLogger(__name__)


class UserAdmin:
    def __init__(self, db: AsyncSession, settings: Settings, redis: aioredis.Redis) -> None:
        self._db = db
        self._settings = settings
        self._redis = redis

    def summary(self, user: User) -> UserSummary:
        whitelist = {e.lower() for e in self._settings.SUBSCRIPTION_WHITELIST}
        return UserSummary(
            id=user.id,
            email=user.email,
            created_at=user.created_at,
            city=user.city,
            niche=user.niche,
            is_active=user.is_active,
            is_superuser=user.is_superuser,
            is_verified=user.is_verified,
            trial_ends_at=user.trial_ends_at,
            subscription_ends_at=user.subscription_ends_at,
            whitelisted=user.email.lower() in whitelist,
            has_access=has_analytics_access(user, self._settings),
        )

    async def _user(self, email: str, *, for_update: bool = False) -> User:
        user = await repository.user_by_email(self._db, email, for_update=for_update)
        if user is None:
            raise UserNotFound
        return user

    async def list(self, limit: int = 100, offset: int = 0) -> UserList:
        users = await repository.list_users(self._db, limit, offset)
        return UserList(total=await repository.count_users(self._db), users=[self.summary(u) for u in users])

    async def show(self, email: str) -> UserDetail:
        user = await self._user(email)
        sessions = await repository.session_ids(self._db, user.id)
        stats = await repository.activity(self._db, user.id, sessions)
        return UserDetail(
            **self.summary(user).model_dump(),
            sessions=len(sessions),
            messages=stats["messages"],
            funnel_events=stats["funnel_events"],
            audio_files=stats["audio"],
            last_message_at=stats["last_message_at"],
        )

    async def grant(self, email: str, days: int) -> UserSummary:
        """Extend the subscription by ``days`` from its current end, or from now if it has ended."""
        user = await self._user(email, for_update=True)
        now = utcnow()
        start = user.subscription_ends_at if user.subscription_ends_at and user.subscription_ends_at > now else now
        user.subscription_ends_at = start + timedelta(days=days)
        await self._db.flush()
        logger.info("access granted", extra={"user_id": str(user.id), "days": days})
        return self.summary(user)

    async def revoke(self, email: str) -> UserSummary:
        """End the subscription and the trial now (a revoked account does not get a new trial).
        SUBSCRIPTION_WHITELIST still grants access: ``whitelisted`` says so."""
        user = await self._user(email, for_update=True)
        now = utcnow()
        user.subscription_ends_at = min(user.subscription_ends_at, now) if user.subscription_ends_at else None
        user.trial_ends_at = min(user.trial_ends_at, now) if user.trial_ends_at else now
        await self._db.flush()
        logger.info("access revoked", extra={"user_id": str(user.id)})
        return self.summary(user)

    async def delete(self, email: str) -> DeletionReport:
        """Erase the account: its conversations (sessions, messages, funnel events), audio rows and
        files, live session states in Redis, then the user row."""
        user = await self._user(email, for_update=True)
        report = DeletionReport(user_id=user.id, email=user.email)
        sessions = await repository.session_ids(self._db, user.id)
        audio = await repository.audio_files(self._db, sessions)
        report.audio_events = await repository.delete_audio_events(self._db, [event_id for event_id, _ in audio])
        conversations = RetentionReport()
        if sessions:
            await self._db.run_sync(lambda sync_db: delete_conversations(sync_db, sessions, conversations))
        report.messages = conversations.messages + await repository.delete_messages_of_user(self._db, user.id)
        report.sessions, report.funnel_events = conversations.sessions, conversations.funnel_events
        report.lead_events = await delete_events_of_user(self._db, user.id)
        self._db.expunge(user)
        await repository.delete_user(self._db, user.id)
        await self._db.flush()
        files = [path for _, path in audio if path]
        storage = build_storage(self._settings)
        store = SessionStore(self._redis, self._settings.SESSION_TTL_SECONDS)

        async def erase_outside_the_database() -> None:
            for relative in files:
                try:
                    removed = storage.remove(relative)
                except MediaStoreUnavailable:  # the bucket is down: the rows are gone, the object stays
                    logger.error("erasure could not delete a media object", extra={"user_id": str(report.user_id)})
                    removed = False
                if removed:
                    report.media_files += 1
                else:
                    report.media_missing += 1
            report.redis_sessions = await store.destroy_conversations(set(sessions))
            logger.info("account erased", extra={"user_id": str(report.user_id), "media_files": report.media_files})

        after_commit(self._db, erase_outside_the_database)
        return report
