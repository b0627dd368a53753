"""All SQL for conversation sessions: the ``chat_sessions`` row behind each ``sessionid``."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ChatSession
from backend.core.orm import utcnow


async def store_session(db: AsyncSession, chat_session_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
    """Insert the row unless it exists (two first actions of one session may race: both succeed)."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    await db.execute(
        insert(ChatSession)
        .values(id=chat_session_id, user_id=user_id, is_guest=user_id is None, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[ChatSession.id])
    )


async def attach_user(db: AsyncSession, chat_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await db.execute(
        update(ChatSession).where(ChatSession.id == chat_session_id).values(user_id=user_id, is_guest=False)
    )
