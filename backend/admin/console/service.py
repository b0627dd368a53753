"""Rules of the read-only operator console: filters, pagination bounds, the transcript's turn fields,
the funnel's days and the CSV layout. SQL is in ``repository.py``."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.admin.console import repository
from backend.admin.console.exceptions import ConversationNotFound, ConversationTaken
from backend.admin.console.repository import ConversationFilter
from backend.admin.console.schemas import (
    ConversationList,
    ConversationSummary,
    FunnelDay,
    FunnelStats,
    HandoffStatus,
    Lead,
    LeadList,
    PostedReply,
    ScenarioShare,
    Transcript,
    TranscriptMessage,
)
from backend.auth.schemas import VISIT_FIELDS, Visit
from backend.chat import repository as chat_repository
from backend.chat.handoff import Handoff
from backend.chat.models import Message
from backend.core.config import Settings

CSV_COLUMNS = (
    "email",
    "city",
    "niche",
    "registered_at",
    "trial_ends_at",
    "first_message_at",
    "last_message_at",
    "stage_reached",
    *VISIT_FIELDS,
)
CSV_BATCH = 500
# A cell starting with these is a formula in spreadsheet programs (CSV injection): quote it as text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _turn(message: Message) -> TranscriptMessage:
    meta: dict[str, Any] = message.meta or {}
    turn = TranscriptMessage(id=message.id, role=message.role, text=message.text, created_at=message.created_at)
    if message.role != "assistant":
        return turn
    latency = meta.get("latency_ms")
    return turn.model_copy(
        update={
            "scenario": message.scenario or meta.get("scenario"),
            "action": meta.get("action"),
            "sources": meta.get("sources") if isinstance(meta.get("sources"), list) else None,
            "tool_calls": meta.get("tool_calls") if isinstance(meta.get("tool_calls"), list) else None,
            "provider": meta.get("provider"),
            "fallback": bool(meta.get("fallback")),
            "fallback_reason": meta.get("fallback_reason"),
            "latency_ms": float(latency) if isinstance(latency, int | float) else None,
            "manager": str(meta["manager"]) if meta.get("manager") else None,
        }
    )


def _lead(row: Any) -> Lead:
    return Lead(
        id=row.id,
        email=row.email,
        city=row.city,
        niche=row.niche,
        registered_at=row.created_at,
        trial_ends_at=row.trial_ends_at,
        first_message_at=row.first_message_at,
        last_message_at=row.last_message_at,
        stage_reached=row.stage,
        visit=Visit.stored(row),
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class Console:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def conversations(self, filters: ConversationFilter, limit: int, offset: int) -> ConversationList:
        rows = await repository.list_conversations(self._db, filters, limit, offset)
        total = int(rows[0].total) if rows else 0
        if not rows and offset:  # past the end: the window gave no row to read the total from
            total = await repository.count_conversations(self._db, filters)
        scenarios = await repository.scenarios_of(self._db, [row.id for row in rows])
        return ConversationList(
            total=total,
            limit=limit,
            offset=offset,
            conversations=[
                ConversationSummary(
                    id=row.id,
                    user_email=row.email,
                    started_at=row.started_at,
                    last_message_at=row.last_message_at,
                    messages=int(row.messages),
                    scenarios=scenarios.get(row.id, []),
                    fallbacks=int(row.fallbacks or 0),
                    funnel_stage=row.funnel_stage,
                    handoff_state=row.handoff_state,
                    handoff_by=row.handoff_by,
                )
                for row in rows
            ],
        )

    async def transcript(self, session_id: uuid.UUID) -> Transcript:
        head = await repository.conversation(self._db, session_id)
        if head is None:
            raise ConversationNotFound
        messages = await repository.transcript(self._db, session_id)
        return Transcript(
            id=head.id,
            user_email=head.email,
            funnel_stage=head.funnel_stage,
            created_at=head.created_at,
            handoff_state=head.handoff_state,
            handoff_by=head.handoff_by,
            visit=Visit.stored(head),
            messages=[_turn(m) for m in messages],
        )

    async def leads(self, limit: int, offset: int) -> LeadList:
        total = await repository.count_leads(self._db)
        rows = await repository.list_leads(self._db, limit, offset)
        return LeadList(total=total, limit=limit, offset=offset, leads=[_lead(row) for row in rows])

    async def leads_csv(self) -> AsyncIterator[str]:
        """The CSV, header first, read in batches so a large table is never held whole."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        offset = 0
        while True:
            rows = await repository.list_leads(self._db, CSV_BATCH, offset)
            for row in rows:
                lead = _lead(row).model_dump()
                cells = {**lead, **lead["visit"]}
                writer.writerow([_cell(cells[column]) for column in CSV_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < CSV_BATCH:
                return
            offset += CSV_BATCH

    async def funnel(self, days: int, now: datetime | None = None) -> FunnelStats:
        today = (now or datetime.now(UTC)).date()
        first = today - timedelta(days=days - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=UTC)
        visitors = await repository.visitors_per_day(self._db, since)
        stage1 = await repository.stage_reached_per_day(self._db, since, 1)
        stage2 = await repository.stage_reached_per_day(self._db, since, 2)
        registered = await repository.registered_per_day(self._db, since)
        turns = await repository.assistant_turns(self._db, since)
        total = sum(n for _, n, _ in turns)
        failed = sum(f for _, _, f in turns)
        calendar = [(first + timedelta(days=n)).isoformat() for n in range(days)]
        return FunnelStats(
            days=[
                FunnelDay(
                    day=day,
                    visitors=visitors.get(day, 0),
                    stage1=stage1.get(day, 0),
                    stage2=stage2.get(day, 0),
                    registered=registered.get(day, 0),
                )
                for day in calendar
            ],
            scenarios=[
                ScenarioShare(scenario=scenario or "UNKNOWN", turns=n, fallbacks=f)
                for scenario, n, f in sorted(turns, key=lambda t: -t[1])
            ],
            assistant_turns=total,
            fallback_rate=round(failed / total, 4) if total else 0.0,
        )


class HandoffDesk:
    """A manager's actions on one conversation (the caller's unit of work commits): take it (of two
    managers at once exactly one wins, the other gets 409), reply, hand it back, close it."""

    def __init__(self, db: AsyncSession, settings: Settings) -> None:
        self._db = db
        self._handoff = Handoff(db, settings)

    async def _status(self, session_id: uuid.UUID) -> HandoffStatus:
        head = await repository.conversation(self._db, session_id)
        if head is None:
            raise ConversationNotFound
        return HandoffStatus(id=head.id, handoff_state=head.handoff_state, handoff_by=head.handoff_by)

    async def take(self, session_id: uuid.UUID, manager_id: uuid.UUID | None) -> HandoffStatus:
        await self._status(session_id)
        if not await self._handoff.take(session_id, manager_id):
            raise ConversationTaken
        return await self._status(session_id)

    async def reply(self, session_id: uuid.UUID, manager_id: uuid.UUID | None, text: str) -> PostedReply:
        await self._status(session_id)
        manager = str(manager_id) if manager_id is not None else "admin-token"
        message = await chat_repository.add_message(
            self._db, session_id=session_id, user_id=None, role="assistant", text=text, meta={"manager": manager}
        )
        return PostedReply(id=message.id, created_at=message.created_at)

    async def release(self, session_id: uuid.UUID) -> HandoffStatus:
        await self._status(session_id)
        await self._handoff.release(session_id)
        return await self._status(session_id)

    async def close(self, session_id: uuid.UUID) -> HandoffStatus:
        await self._status(session_id)
        await self._handoff.close(session_id)
        return await self._status(session_id)
