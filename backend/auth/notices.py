"""The operator's notice of a new registration: scheduled when an account is created, sent to
``ADMIN_EMAIL`` by the ``auth.registration_notice`` task on the ``text`` queue once the account's
unit of work has committed (a registration that rolls back notifies nobody).

A notice is a courtesy: failing to queue it is logged and never fails the registration.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.celery import shared_producer
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.core.logging import journal_error
from backend.core.redis import resolve_redis_url

logger = logging.getLogger(__name__)

NOTICE_TASK = "auth.registration_notice"
NOTICE_EXPIRES_SECONDS = 24 * 3600  # a notice still queued a day later is dropped


def _send(settings: Settings, user_id: uuid.UUID) -> None:
    producer = shared_producer(settings, resolve_redis_url(settings))
    producer.signature(NOTICE_TASK, args=(str(user_id),)).set(expires=NOTICE_EXPIRES_SECONDS).apply_async()


def schedule_registration_notice(db: AsyncSession, settings: Settings, user_id: uuid.UUID) -> None:
    """Queue the notice after ``db``'s unit of work commits; nothing when ``ADMIN_EMAIL`` is unset."""
    if not settings.ADMIN_EMAIL:
        return

    async def send() -> None:
        try:
            await asyncio.to_thread(_send, settings, user_id)
        except Exception as exc:  # the broker is down: the account exists, only the notice is lost
            journal_error("registration_notice_not_queued", exc, user_id=str(user_id))

    after_commit(db, send)
