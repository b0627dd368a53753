"""The team's notice of a handoff to a human: scheduled in the turn that hands the conversation over,
sent to ``ADMIN_EMAIL`` by the ``chat.handoff_notice`` task on the ``text`` queue once that turn has
committed (the same pattern as ``auth.notices``; a turn that rolls back notifies nobody).

A notice is a courtesy: failing to queue it is journaled and never fails the turn (the lead outbox
row is the reliable signal).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.mailer import Mailer
from backend.core.celery import shared_producer
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.core.logging import journal_error
from backend.core.redis import resolve_redis_url

NOTICE_TASK = "chat.handoff_notice"
NOTICE_EXPIRES_SECONDS = 24 * 3600  # a notice still queued a day later is dropped
SUBJECT = "Посетитель ждёт менеджера в Leadinc"
BODY = (
    "Посетитель ждёт ответа менеджера.\n\n"
    "Диалог: {session_id}\nКонтакт: {contact}\nПричина: {reason}\nПоследнее сообщение: {text}\n"
    "Время (UTC): {at}\n\nВозьмите диалог в консоли: /admin/ (фильтр «ждёт менеджера»)."
)
REASONS = {"asked": "попросил позвать человека", "fallbacks": "ассистент дважды подряд не смог ответить"}
NOT_GIVEN = "не указан"


def _send(settings: Settings, session_id: uuid.UUID, reason: str) -> None:
    producer = shared_producer(settings, resolve_redis_url(settings))
    producer.signature(NOTICE_TASK, args=(str(session_id), reason)).set(expires=NOTICE_EXPIRES_SECONDS).apply_async()


def schedule_handoff_notice(db: AsyncSession, settings: Settings, session_id: uuid.UUID, reason: str) -> None:
    """Queue the notice after ``db``'s unit of work commits; nothing when ``ADMIN_EMAIL`` is unset."""
    if not settings.ADMIN_EMAIL:
        return

    async def send() -> None:
        try:
            await asyncio.to_thread(_send, settings, session_id, reason)
        except Exception as exc:  # the broker is down: the handoff and its lead row stand
            journal_error("handoff_notice_not_queued", exc, session_id=str(session_id))

    after_commit(db, send)


async def send_handoff_notice(
    settings: Settings, *, session_id: str, contact: str | None, reason: str, text: str, at: datetime
) -> None:
    body = BODY.format(
        session_id=session_id,
        contact=contact or NOT_GIVEN,
        reason=REASONS.get(reason, reason),
        text=text[:500],
        at=at.strftime("%Y-%m-%d %H:%M"),
    )
    await Mailer(settings).send_message(settings.ADMIN_EMAIL, SUBJECT, body, kind="notice")
