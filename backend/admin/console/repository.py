"""All SQL of the operator console. Read-only: nothing here writes.

Portable between PostgreSQL and SQLite: the text search is ``ILIKE`` on PostgreSQL and a Unicode
``lower`` + ``LIKE`` on SQLite; JSON fields are read with SQLAlchemy's JSON accessors; days are
formatted per dialect (UTC)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, case, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from backend.auth.models import ChatSession, User
from backend.auth.repository import visit_columns
from backend.chat.models import FunnelEvent, Message


@dataclass(frozen=True)
class ConversationFilter:
    since: datetime | None = None
    until: datetime | None = None
    scenario: str | None = None
    registered: bool | None = None
    failed: bool | None = None
    q: str | None = None
    handoff: str | None = None  # assistant | waiting | taken | closed


def _failed_turn() -> ColumnElement[bool]:
    """An assistant turn that fell back to the offline model or ended in an error action."""
    return and_(
        Message.role == "assistant",
        or_(Message.meta["fallback"].as_boolean() == true(), Message.meta["action"].as_string() == "error"),
    )


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_matches(dialect: str, text: QueryableAttribute[str], q: str) -> ColumnElement[bool]:
    """Case-insensitive substring match; % and _ in ``q`` are literal. SQLite folds only ASCII case,
    so there both sides go through ``unicode_lower`` (registered by ``core.database`` on connect)."""
    if dialect == "sqlite":
        return func.unicode_lower(text).like(_like_pattern(q.lower()), escape="\\")
    return text.ilike(_like_pattern(q), escape="\\")


def _conversations(filters: ConversationFilter, dialect: str) -> tuple[Select[Any], Any]:
    stats_query = select(
        Message.session_id.label("session_id"),
        func.min(Message.created_at).label("started_at"),
        func.max(Message.created_at).label("last_message_at"),
        func.count().label("messages"),
        func.sum(case((_failed_turn(), 1), else_=0)).label("fallbacks"),
    ).group_by(Message.session_id)
    if filters.q:
        # The search picks the conversations before they are aggregated, so only theirs are read (on
        # PostgreSQL the match runs on the trigram index ix_messages_text_trgm, migration 0007), not
        # every message of every conversation, to be thrown away by the join afterwards.
        found = aliased(Message)
        stats_query = stats_query.where(
            Message.session_id.in_(select(found.session_id).where(_text_matches(dialect, found.text, filters.q)))
        )
    stats = stats_query.subquery("stats")
    statement = (
        select(
            ChatSession.id,
            User.email,
            stats.c.started_at,
            stats.c.last_message_at,
            stats.c.messages,
            stats.c.fallbacks,
            ChatSession.funnel_stage,
            ChatSession.handoff_state,
            ChatSession.handoff_by,
        )
        .join(stats, stats.c.session_id == ChatSession.id)
        .outerjoin(User, User.id == ChatSession.user_id)
    )
    if filters.since is not None:
        statement = statement.where(stats.c.last_message_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(stats.c.started_at < filters.until)
    if filters.registered is not None:
        statement = statement.where(
            ChatSession.user_id.is_not(None) if filters.registered else ChatSession.user_id.is_(None)
        )
    if filters.failed is not None:
        statement = statement.where(stats.c.fallbacks > 0 if filters.failed else stats.c.fallbacks == 0)
    if filters.handoff is not None:
        statement = statement.where(ChatSession.handoff_state == filters.handoff)
    if filters.scenario is not None:
        statement = statement.where(
            exists().where(Message.session_id == ChatSession.id, Message.scenario == filters.scenario)
        )
    return statement, stats


async def count_conversations(db: AsyncSession, filters: ConversationFilter) -> int:
    inner = _conversations(filters, _dialect(db))[0].subquery()
    return int(await db.scalar(select(func.count()).select_from(inner)) or 0)


async def list_conversations(db: AsyncSession, filters: ConversationFilter, limit: int, offset: int) -> list[Any]:
    """One page; each row also carries ``total``, the count of the whole filtered list (a window over
    the same scan, so the filters and the search run once per page, not twice)."""
    statement, stats = _conversations(filters, _dialect(db))
    statement = (
        statement.add_columns(func.count().over().label("total"))
        .order_by(stats.c.last_message_at.desc(), ChatSession.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await db.execute(statement)).all())


async def scenarios_of(db: AsyncSession, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    if not session_ids:
        return {}
    rows = await db.execute(
        select(Message.session_id, Message.scenario)
        .where(Message.session_id.in_(session_ids), Message.scenario.is_not(None))
        .distinct()
    )
    seen: dict[uuid.UUID, list[str]] = {}
    for session_id, scenario in rows.all():
        seen.setdefault(session_id, []).append(scenario)
    return {key: sorted(value) for key, value in seen.items()}


async def conversation(db: AsyncSession, session_id: uuid.UUID) -> Any | None:
    statement = (
        select(
            ChatSession.id,
            User.email,
            ChatSession.funnel_stage,
            ChatSession.created_at,
            ChatSession.handoff_state,
            ChatSession.handoff_by,
            *visit_columns(),
        )
        .outerjoin(User, User.id == ChatSession.user_id)
        .where(ChatSession.id == session_id)
    )
    return (await db.execute(statement)).first()


async def transcript(db: AsyncSession, session_id: uuid.UUID) -> list[Message]:
    rows = await db.scalars(
        select(Message).where(Message.session_id == session_id).order_by(Message.created_at, Message.id)
    )
    return list(rows.all())


def _leads() -> Select[Any]:
    activity = (
        select(
            ChatSession.user_id.label("user_id"),
            func.min(Message.created_at).label("first_message_at"),
            func.max(Message.created_at).label("last_message_at"),
        )
        .join(Message, Message.session_id == ChatSession.id)
        .where(ChatSession.user_id.is_not(None))
        .group_by(ChatSession.user_id)
        .subquery("activity")
    )
    stages = (
        select(ChatSession.user_id.label("user_id"), func.max(FunnelEvent.to_stage).label("stage"))
        .join(FunnelEvent, FunnelEvent.session_id == ChatSession.id)
        .where(ChatSession.user_id.is_not(None))
        .group_by(ChatSession.user_id)
        .subquery("stages")
    )
    # Where the lead came from: the account's first conversation (the one a chat sign-up registers in;
    # later sessions of a signed-in visitor are created after it).
    first = (
        select(
            ChatSession.user_id.label("user_id"),
            *visit_columns(),
            func.row_number()
            .over(partition_by=ChatSession.user_id, order_by=(ChatSession.created_at, ChatSession.id))
            .label("n"),
        )
        .where(ChatSession.user_id.is_not(None))
        .subquery("first_session")
    )
    return (
        select(
            User.id,
            User.email,
            User.city,
            User.niche,
            User.created_at,
            User.trial_ends_at,
            activity.c.first_message_at,
            activity.c.last_message_at,
            stages.c.stage,
            *(first.c[column.name] for column in visit_columns()),
        )
        .outerjoin(activity, activity.c.user_id == User.id)
        .outerjoin(stages, stages.c.user_id == User.id)
        .outerjoin(first, and_(first.c.user_id == User.id, first.c.n == 1))
        .where(User.is_superuser == false())
    )


async def count_leads(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(User).where(User.is_superuser == false())) or 0)


async def list_leads(db: AsyncSession, limit: int | None, offset: int) -> list[Any]:
    statement = _leads().order_by(User.created_at.desc(), User.id).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return list((await db.execute(statement)).all())


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def _day(db: AsyncSession, column: Any) -> Any:
    if _dialect(db) == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


async def visitors_per_day(db: AsyncSession, since: datetime) -> dict[str, int]:
    day = _day(db, Message.created_at)
    rows = await db.execute(
        select(day, func.count(func.distinct(Message.session_id)))
        .where(Message.created_at >= since, Message.role == "user")
        .group_by(day)
    )
    return {str(d): int(n) for d, n in rows.all()}


async def stage_reached_per_day(db: AsyncSession, since: datetime, stage: int) -> dict[str, int]:
    day = _day(db, FunnelEvent.at)
    rows = await db.execute(
        select(day, func.count(func.distinct(FunnelEvent.session_id)))
        .where(FunnelEvent.at >= since, FunnelEvent.to_stage >= stage)
        .group_by(day)
    )
    return {str(d): int(n) for d, n in rows.all()}


async def registered_per_day(db: AsyncSession, since: datetime) -> dict[str, int]:
    day = _day(db, User.created_at)
    rows = await db.execute(
        select(day, func.count()).where(User.created_at >= since, User.is_superuser == false()).group_by(day)
    )
    return {str(d): int(n) for d, n in rows.all()}


async def assistant_turns(db: AsyncSession, since: datetime) -> list[tuple[str | None, int, int]]:
    """Per scenario: assistant turns and how many of them fell back or failed."""
    rows = await db.execute(
        select(Message.scenario, func.count(), func.sum(case((_failed_turn(), 1), else_=0)).cast(Integer))
        .where(Message.created_at >= since, Message.role == "assistant")
        .group_by(Message.scenario)
    )
    return [(scenario, int(n), int(failed or 0)) for scenario, n, failed in rows.all()]
