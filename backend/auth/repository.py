"""All SQL for conversation sessions: the ``chat_sessions`` row behind each ``sessionid``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ChatSession
from backend.auth.schemas import VISIT_FIELDS
from backend.core.orm import utcnow


async def store_session(
    db: AsyncSession, chat_session_id: uuid.UUID, user_id: uuid.UUID | None, visit: Mapping[str, str] | None = None
) -> None:
    """Insert the row unless it exists (two first actions of one session may race: both succeed and
    carry the same visit, the session's)."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    known = {name: value for name, value in (visit or {}).items() if name in VISIT_FIELDS}
    await db.execute(
        insert(ChatSession)
        .values(id=chat_session_id, user_id=user_id, is_guest=user_id is None, created_at=now, updated_at=now, **known)
        .on_conflict_do_nothing(index_elements=[ChatSession.id])
    )


def visit_columns() -> list[Any]:
    """The ``chat_sessions`` columns of ``auth.schemas.Visit``, in its field order."""
    return [ChatSession.__table__.c[name] for name in VISIT_FIELDS]


async def visit_of(db: AsyncSession, chat_session_id: uuid.UUID) -> dict[str, str | None] | None:
    """Where the visitor of a stored session came from (every field, null when not given); None when
    the session has no row."""
    row = (await db.execute(select(*visit_columns()).where(ChatSession.id == chat_session_id))).first()
    return dict(row._mapping) if row is not None else None


async def attach_user(db: AsyncSession, chat_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await db.execute(
        update(ChatSession).where(ChatSession.id == chat_session_id).values(user_id=user_id, is_guest=False)
    )
