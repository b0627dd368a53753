"""All SQL of the lead outbox: the insert (the API's async unit of work) and the worker's locked
reads (its sync session)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.leads.models import DeliveryState, LeadEvent, LeadKind


async def add_event(db: AsyncSession, kind: LeadKind, payload: dict[str, Any]) -> LeadEvent:
    event = LeadEvent(kind=kind.value, payload=payload)
    db.add(event)
    await db.flush()
    return event


async def delete_events_of_user(db: AsyncSession, user_id: uuid.UUID) -> int:
    """Erasure: the outbox rows of one account (they carry its contact), delivered or not."""
    result = await db.execute(delete(LeadEvent).where(LeadEvent.payload["user_id"].as_string() == str(user_id)))
    return int(getattr(result, "rowcount", 0) or 0)


def lock_event(db: Session, event_id: uuid.UUID) -> LeadEvent | None:
    """The row, locked for this transaction; None when it does not exist or another worker holds it
    (``SKIP LOCKED``: that worker is delivering it right now). SQLite has no row locks and ignores it."""
    query = select(LeadEvent).where(LeadEvent.id == event_id).with_for_update(skip_locked=True)
    return db.scalars(query).first()


def overdue_event_ids(db: Session, *, due_before: datetime, created_after: datetime, limit: int) -> list[uuid.UUID]:
    query = (
        select(LeadEvent.id)
        .where(
            LeadEvent.state == DeliveryState.PENDING.value,
            LeadEvent.next_attempt_at <= due_before,
            LeadEvent.created_at > created_after,
        )
        .order_by(LeadEvent.next_attempt_at)
        .limit(limit)
    )
    return list(db.scalars(query))
