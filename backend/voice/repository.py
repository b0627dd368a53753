"""All SQL of the voice domain: audio event rows. Sync functions serve tasks, async ones the API."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.voice.models import AudioEvent


def get_event(db: Session, event_id: uuid.UUID) -> AudioEvent | None:
    return db.get(AudioEvent, event_id)


def event_for_task(db: Session, task_id: str, direction: str) -> AudioEvent | None:
    statement = select(AudioEvent).where(AudioEvent.task_id == task_id, AudioEvent.direction == direction).limit(1)
    return db.scalars(statement).first()


def add_event(db: Session, **fields: Any) -> AudioEvent:
    event = AudioEvent(**fields)
    db.add(event)
    db.flush()
    return event


def update_event(db: Session, event_id: uuid.UUID, **fields: Any) -> None:
    event = db.get(AudioEvent, event_id)
    if event is not None:
        for key, value in fields.items():
            setattr(event, key, value)
        db.flush()


async def add_event_async(db: AsyncSession, **fields: Any) -> AudioEvent:
    event = AudioEvent(**fields)
    db.add(event)
    await db.flush()
    return event


async def update_event_async(db: AsyncSession, event_id: uuid.UUID, **fields: Any) -> None:
    event = await db.get(AudioEvent, event_id)
    if event is not None:
        for key, value in fields.items():
            setattr(event, key, value)
        await db.flush()
