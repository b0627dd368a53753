"""All SQL of the operators' account management (the conversation rows themselves are deleted by
``chat.retention.delete_conversations``, the same statements guest retention uses)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ChatSession, User
from backend.chat.models import FunnelEvent, Message
from backend.voice.models import AudioEvent


async def count_users(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(User)) or 0)


async def list_users(db: AsyncSession, limit: int, offset: int) -> list[User]:
    rows = await db.scalars(select(User).order_by(User.created_at.desc(), User.id).limit(limit).offset(offset))
    return list(rows.all())


async def user_by_email(db: AsyncSession, email: str, *, for_update: bool = False) -> User | None:
    """The account, case-insensitively; ``for_update`` locks its row until the unit of work ends, so
    concurrent grants add up and a concurrent second erasure finds nothing."""
    statement = select(User).where(func.lower(User.email) == email.strip().lower())
    if for_update:
        statement = statement.with_for_update()
    return (await db.scalars(statement)).first()


async def session_ids(db: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    return list((await db.scalars(select(ChatSession.id).where(ChatSession.user_id == user_id))).all())


async def activity(db: AsyncSession, user_id: uuid.UUID, sessions: list[uuid.UUID]) -> dict[str, Any]:
    """Counts of what the account holds, and its last message time."""
    messages = select(func.count(), func.max(Message.created_at)).where(
        (Message.session_id.in_(sessions)) | (Message.user_id == user_id)
    )
    count, last = (await db.execute(messages)).one()
    funnel = await db.scalar(select(func.count()).select_from(FunnelEvent).where(FunnelEvent.session_id.in_(sessions)))
    audio = await db.scalar(
        select(func.count())
        .select_from(AudioEvent)
        .where(AudioEvent.session_id.in_(sessions), AudioEvent.file_path.is_not(None))
    )
    last_at: datetime | None = last
    return {
        "messages": int(count),
        "last_message_at": last_at,
        "funnel_events": int(funnel or 0),
        "audio": int(audio or 0),
    }


async def audio_files(db: AsyncSession, sessions: list[uuid.UUID]) -> list[tuple[uuid.UUID, str | None]]:
    rows = await db.execute(select(AudioEvent.id, AudioEvent.file_path).where(AudioEvent.session_id.in_(sessions)))
    return [(row[0], row[1]) for row in rows.all()]


async def delete_audio_events(db: AsyncSession, ids: list[uuid.UUID]) -> int:
    result = await db.execute(delete(AudioEvent).where(AudioEvent.id.in_(ids)))
    return cast(CursorResult[Any], result).rowcount or 0


async def delete_messages_of_user(db: AsyncSession, user_id: uuid.UUID) -> int:
    """Messages carrying the user's id outside their own sessions (none in practice; erased anyway)."""
    result = await db.execute(delete(Message).where(Message.user_id == user_id))
    return cast(CursorResult[Any], result).rowcount or 0


async def delete_user(db: AsyncSession, user_id: uuid.UUID) -> int:
    result = await db.execute(delete(User).where(User.id == user_id))
    return cast(CursorResult[Any], result).rowcount or 0
