"""Conversations: messages and registration-funnel events (the ``chat_sessions`` row is auth's)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.orm import Base, CreatedAt, JSONType, UUIDPrimaryKey, utcnow


class Message(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "messages"
    # Every turn reads its conversation's newest messages (repository.recent_messages): one index gives
    # the filter and the order. With separate indexes PostgreSQL may walk ix_messages_created_at
    # backwards through every conversation's messages to find a new conversation's few (or none).
    # The operator console filters conversations by a turn's scenario and searches the text with
    # ILIKE '%…%' (admin.console.repository); on PostgreSQL a pg_trgm GIN index answers the search
    # (migration 0007; SQLite has no such index and scans; alembic/env.py compares it on PostgreSQL only).
    __table_args__ = (
        Index("ix_messages_session_id_created_at", "session_id", "created_at", "id"),
        Index("ix_messages_scenario_session_id", "scenario", "session_id"),
        Index("ix_messages_text_trgm", "text", postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"}).ddl_if(
            dialect="postgresql"
        ),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant | system
    scenario: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # sources, tool calls, token usage, latency, provider, fallback flag
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)


class FunnelEvent(UUIDPrimaryKey, Base):
    __tablename__ = "funnel_events"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[int | None] = mapped_column(Integer)
    to_stage: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
