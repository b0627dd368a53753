"""Data retention (152-FZ / GDPR): guest conversations are deleted after RETENTION_GUEST_DAYS.

A guest conversation is a ``chat_sessions`` row with no user (never registered, or its account was
deleted, which sets ``user_id`` to NULL). It goes, with its messages and funnel events, when it was
created before the cutoff and has no message since. Registered users' history is kept until the
account is deleted. The ``chat.retention`` task runs this daily from Celery beat; it is kept apart
from the session SQL in ``repository.py`` on purpose (one rule, one file).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, exists, select
from sqlalchemy.orm import Session

from backend.auth.models import ChatSession
from backend.chat.models import FunnelEvent, Message

BATCH = 500  # sessions per transaction: short locks, bounded memory


@dataclass
class RetentionReport:
    sessions: int = 0
    messages: int = 0
    funnel_events: int = 0


def guest_cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


def _deleted(db: Session, statement: Delete) -> int:
    return cast(CursorResult[Any], db.execute(statement)).rowcount or 0


def delete_conversations(db: Session, ids: list[uuid.UUID], report: RetentionReport) -> None:
    """Delete the ``chat_sessions`` rows ``ids`` with their messages and funnel events (no commit).

    Shared by guest retention and the operator's account erasure (``backend/admin``)."""
    report.messages += _deleted(db, delete(Message).where(Message.session_id.in_(ids)))
    report.funnel_events += _deleted(db, delete(FunnelEvent).where(FunnelEvent.session_id.in_(ids)))
    report.sessions += _deleted(db, delete(ChatSession).where(ChatSession.id.in_(ids)))


def _delete_batch(db: Session, cutoff: datetime, report: RetentionReport) -> int:
    recent = exists().where(Message.session_id == ChatSession.id, Message.created_at >= cutoff)
    stale = select(ChatSession.id).where(ChatSession.user_id.is_(None), ChatSession.created_at < cutoff, ~recent)
    ids = list(db.scalars(stale.limit(BATCH)))
    if not ids:
        return 0
    delete_conversations(db, ids, report)
    return len(ids)


def purge_guest_history(db: Session, days: int, now: datetime | None = None) -> RetentionReport:
    """Delete guest conversations idle for ``days`` days; commits after every batch."""
    cutoff, report = guest_cutoff(days, now), RetentionReport()
    while _delete_batch(db, cutoff, report):
        db.commit()
    return report
