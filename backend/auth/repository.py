"""All SQL for conversation sessions: the ``chat_sessions`` row behind each ``sessionid``."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ChatSession


async def create_session(db: AsyncSession, user_id: uuid.UUID | None) -> ChatSession:
    row = ChatSession(user_id=user_id, is_guest=user_id is None)
    db.add(row)
    await db.flush()
    return row


async def attach_user(db: AsyncSession, chat_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await db.execute(
        update(ChatSession).where(ChatSession.id == chat_session_id).values(user_id=user_id, is_guest=False)
    )
