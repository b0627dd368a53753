"""All SQL for conversations: messages, funnel events, the conversation fields of a session row
(creating and attaching session rows is ``auth.repository``'s)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.auth.models import ChatSession, User
from backend.chat.models import FunnelEvent, Message
from backend.core.orm import utcnow


async def move_history_to_user(db: AsyncSession, chat_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await update_session_fields(db, chat_session_id, user_id=user_id, is_guest=False)
    await db.execute(update(Message).where(Message.session_id == chat_session_id).values(user_id=user_id))


async def update_session_fields(db: AsyncSession, chat_session_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(ChatSession).where(ChatSession.id == chat_session_id).values(**values))


@dataclass(frozen=True)
class StoredMessage:
    id: uuid.UUID
    created_at: datetime


# Every turn runs these: built once (SQLAlchemy then skips building the statement and its cache key),
# over the tables rather than the mapped classes (plain rows, no ORM result machinery).
_MESSAGES = cast(Table, Message.__table__)
_SESSIONS = cast(Table, ChatSession.__table__)
_INSERT_MESSAGE = insert(_MESSAGES)


@functools.lru_cache(maxsize=4)
def _recent_query(limit: int) -> Select[tuple[str, str, Any, str | None]]:
    session_id = bindparam("session_id", type_=_MESSAGES.c.session_id.type)
    handoff = select(_SESSIONS.c.handoff_state).where(_SESSIONS.c.id == session_id).scalar_subquery()
    return (
        select(_MESSAGES.c.role, _MESSAGES.c.text, _MESSAGES.c.metadata["fallback"], handoff)
        .where(_MESSAGES.c.session_id == session_id)
        .order_by(_MESSAGES.c.created_at.desc(), _MESSAGES.c.id.desc())
        .limit(limit)
    )


async def add_message(
    db: AsyncSession,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID | None,
    role: str,
    text: str,
    scenario: str | None = None,
    meta: dict[str, Any] | None = None,
) -> StoredMessage:
    """One INSERT, not an ORM object and a flush (every turn stores two; nothing reads them back).

    On asyncpg it is sent on the connection ``db`` holds, like ``recent_and_add``: inside the
    transaction ``db`` has begun (the funnel's account work, flushed first), else as a transaction
    of its own, one round trip instead of BEGIN, INSERT and COMMIT (the commit that follows then has
    nothing to send). Other drivers: through ``db``."""
    stored = StoredMessage(id=uuid.uuid4(), created_at=utcnow())
    driver = await _asyncpg_connection(db)
    if driver is not None:
        await db.flush()  # what the ORM holds goes first, in the transaction it begins
        metadata = json.dumps(meta or {})
        await driver.execute(
            _ADD_MESSAGE, stored.id, session_id, user_id, role, text, scenario, metadata, stored.created_at
        )
        return stored
    values = {"session_id": session_id, "user_id": user_id, "role": role, "text": text, "scenario": scenario}
    await db.execute(
        _INSERT_MESSAGE, values | {"id": stored.id, "metadata": meta or {}, "created_at": stored.created_at}
    )
    return stored


_ADD_MESSAGE = """
INSERT INTO messages (id, session_id, user_id, role, text, scenario, metadata, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""


async def _asyncpg_connection(db: AsyncSession) -> Any | None:
    """The asyncpg connection under ``db``'s (the one its unit of work holds), or None on another driver."""
    connection = await db.connection()
    if connection.dialect.driver != "asyncpg":
        return None
    return (await connection.get_raw_connection()).driver_connection


@dataclass(frozen=True)
class Recent:
    """What a turn reads before it stores the visitor's message, in one query."""

    history: list[tuple[str, str]]  # the newest messages as (role, text), oldest first
    handoff_state: str | None  # the session row's; None when the query could not tell (no message yet)
    last_fell_back: bool | None  # whether the newest assistant message fell back; None: none among them


async def recent_messages(db: AsyncSession, session_id: uuid.UUID, limit: int) -> Recent:
    """The conversation's newest ``limit`` messages as (role, text): two columns, not ORM objects
    (every turn reads them; their metadata would only be decoded to be thrown away), plus each one's
    fallback flag and the session's handoff state, which the turn needs next (one round trip)."""
    rows = (await db.execute(_recent_query(limit), {"session_id": session_id})).all()
    return _recent(rows, limit)


def _recent(rows: Sequence[Sequence[Any]], limit: int) -> Recent:
    """``rows``: the newest messages first as (role, text, fallback flag, the session's handoff state);
    a session without messages may come back as one row with only the handoff state."""
    messages = [row for row in rows if row[0] is not None]
    fell_back = next((bool(flag) for role, _, flag, _ in messages if role == "assistant"), None)
    return Recent(
        history=[(role, text) for role, text, _, _ in reversed(messages)],
        handoff_state=rows[0][3] if rows else None,
        last_fell_back=False if fell_back is None and len(messages) < limit else fell_back,
    )


# ``recent_messages`` then the visitor's message stored, as one statement: a data-modifying CTE runs on
# the statement's snapshot, so the history is read as it was before the insert. The session's handoff
# state comes back even when it has no message yet (one row of nulls besides it). $1 session, $2 limit,
# $3 message id, $4 user, $5 text, $6 created at.
_RECENT_AND_ADD = """
WITH recent AS (
    SELECT role, text, metadata -> 'fallback' AS fallback, created_at, id FROM messages
    WHERE session_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2
), stored AS (
    INSERT INTO messages (id, session_id, user_id, role, text, scenario, metadata, created_at)
    VALUES ($3, $1, $4, 'user', $5, NULL, '{}', $6)
)
SELECT recent.role, recent.text, recent.fallback, (SELECT handoff_state FROM chat_sessions WHERE id = $1)
FROM (VALUES (1)) AS session (one) LEFT JOIN recent ON true
ORDER BY recent.created_at DESC, recent.id DESC
"""


async def recent_and_add(
    db: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID | None, text: str, limit: int
) -> tuple[Recent, StoredMessage]:
    """``recent_messages``, then ``add_message`` of the visitor's message, whose caller commits right away.

    On asyncpg both are one statement sent on the connection ``db`` holds, without SQLAlchemy's work
    per statement (BENCHMARKS.md, "Turn cost"). SQLAlchemy's asyncpg adapter begins its transaction
    with its first statement: when ``db`` has sent nothing yet (a guest's turn), the statement is a
    transaction of its own, one round trip instead of BEGIN, SELECT, INSERT and COMMIT, and the commit
    that follows has nothing to send; when ``db`` has begun (a signed-in caller was read), the statement
    runs in that transaction and commits with it. Other drivers: the two statements through ``db``."""
    driver = await _asyncpg_connection(db)
    if driver is not None:
        stored = StoredMessage(id=uuid.uuid4(), created_at=utcnow())
        rows = await driver.fetch(_RECENT_AND_ADD, session_id, limit, stored.id, user_id, text, stored.created_at)
        return _recent(rows, limit), stored
    recent = await recent_messages(db, session_id, limit)
    return recent, await add_message(db, session_id=session_id, user_id=user_id, role="user", text=text)


async def add_funnel_event(
    db: AsyncSession, session_id: uuid.UUID, from_stage: int | None, to_stage: int | None
) -> None:
    db.add(FunnelEvent(session_id=session_id, from_stage=from_stage, to_stage=to_stage))
    await db.flush()


async def handoff_state(db: AsyncSession, chat_session_id: uuid.UUID) -> str | None:
    """The session's handoff state, or None when its row is not stored yet."""
    row = await db.execute(select(ChatSession.handoff_state).where(ChatSession.id == chat_session_id))
    return row.scalar_one_or_none()


async def change_handoff(
    db: AsyncSession,
    chat_session_id: uuid.UUID,
    *,
    to: str,
    by: uuid.UUID | None,
    at: datetime,
    only_from: tuple[str, ...] | None = None,
) -> bool:
    """Set the handoff state in one conditional UPDATE (``only_from``: only when the row is in one of
    those states, so two managers taking the same conversation at once cannot both win)."""
    query = update(ChatSession).where(ChatSession.id == chat_session_id)
    if only_from is not None:
        query = query.where(ChatSession.handoff_state.in_(only_from))
    result = await db.execute(query.values(handoff_state=to, handoff_by=by, handoff_at=at))
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def last_assistant_fell_back(db: AsyncSession, chat_session_id: uuid.UUID) -> bool:
    """Whether the conversation's newest assistant message came from a fallback."""
    row = await db.execute(
        select(Message.meta)
        .where(Message.session_id == chat_session_id, Message.role == "assistant")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    meta = row.scalar_one_or_none()
    return bool(meta and meta.get("fallback"))


async def messages_after(
    db: AsyncSession, chat_session_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Message]:
    """The conversation's messages after ``after`` (created_at, id) in (created_at, id) order (all
    when None), oldest first."""
    query = select(Message).where(Message.session_id == chat_session_id)
    if after is not None:
        at, message_id = after
        query = query.where(or_(Message.created_at > at, and_(Message.created_at == at, Message.id > message_id)))
    rows = await db.execute(query.order_by(Message.created_at, Message.id).limit(limit))
    return list(rows.scalars())


async def message_time(db: AsyncSession, chat_session_id: uuid.UUID, message_id: uuid.UUID) -> datetime | None:
    row = await db.execute(
        select(Message.created_at).where(Message.id == message_id, Message.session_id == chat_session_id)
    )
    return row.scalar_one_or_none()


def handoff_facts(db: Session, chat_session_id: uuid.UUID) -> tuple[str | None, str] | None:
    """For the handoff notice (the worker's sync session): the contact (the account's e-mail, else the
    one the funnel collected) and the visitor's newest message; None when the session is gone."""
    head = db.execute(
        select(ChatSession.contact, User.email)
        .outerjoin(User, User.id == ChatSession.user_id)
        .where(ChatSession.id == chat_session_id)
    ).first()
    if head is None:
        return None
    text = db.execute(
        select(Message.text)
        .where(Message.session_id == chat_session_id, Message.role == "user")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return head.email or head.contact, text or ""


def overdue_handoffs(db: Session, waiting_since: datetime, limit: int) -> list[tuple[uuid.UUID, bool]]:
    """Conversations waiting for a manager since before ``waiting_since`` that were not yet told so
    (no ``handoff: timeout`` message since the handoff), as (id, whether a contact is known)."""
    told = (
        select(Message.id)
        .where(
            Message.session_id == ChatSession.id,
            Message.created_at >= ChatSession.handoff_at,
            Message.meta["handoff"].as_string() == "timeout",
        )
        .exists()
    )
    rows = db.execute(
        select(ChatSession.id, or_(ChatSession.user_id.is_not(None), ChatSession.contact.is_not(None)))
        .where(ChatSession.handoff_state == "waiting", ChatSession.handoff_at < waiting_since, ~told)
        .limit(limit)
    )
    return [(row[0], bool(row[1])) for row in rows.all()]


def add_message_sync(db: Session, *, session_id: uuid.UUID, role: str, text: str, meta: dict[str, Any]) -> None:
    db.add(Message(session_id=session_id, user_id=None, role=role, text=text, meta=meta))
    db.flush()
