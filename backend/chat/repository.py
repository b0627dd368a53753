"""All SQL for conversations: messages, funnel events, the conversation fields of a session row
(creating and attaching session rows is ``auth.repository``'s)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ChatSession
from backend.chat.models import FunnelEvent, Message


async def move_history_to_user(db: AsyncSession, chat_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await update_session_fields(db, chat_session_id, user_id=user_id, is_guest=False)
    await db.execute(update(Message).where(Message.session_id == chat_session_id).values(user_id=user_id))


async def update_session_fields(db: AsyncSession, chat_session_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(ChatSession).where(ChatSession.id == chat_session_id).values(**values))


async def add_message(
    db: AsyncSession,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID | None,
    role: str,
    text: str,
    scenario: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    row = Message(session_id=session_id, user_id=user_id, role=role, text=text, scenario=scenario, meta=meta or {})
    db.add(row)
    await db.flush()
    return row


async def recent_messages(db: AsyncSession, session_id: uuid.UUID, limit: int) -> list[tuple[str, str]]:
    """The conversation's newest ``limit`` messages as (role, text), oldest first: two columns, not
    ORM objects (every turn reads them; their metadata would only be decoded to be thrown away)."""
    rows = await db.execute(
        select(Message.role, Message.text)
        .where(Message.session_id == session_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return [(role, text) for role, text in reversed(rows.all())]


async def add_funnel_event(
    db: AsyncSession, session_id: uuid.UUID, from_stage: int | None, to_stage: int | None
) -> None:
    db.add(FunnelEvent(session_id=session_id, from_stage=from_stage, to_stage=to_stage))
    await db.flush()
