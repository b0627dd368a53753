"""The lead outbox: one row per lead event, written in the transaction that created the lead."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.orm import Base, JSONType, utcnow


class LeadKind(StrEnum):
    REGISTRATION = "registration"
    HANDOFF = "handoff"  # a conversation is handed to a human manager (chat.handoff)


class DeliveryState(StrEnum):
    PENDING = "pending"  # not delivered yet (never tried, or the receiver failed and a retry is due)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # not delivered within the delivery window (24 h): given up, in the error journal


class LeadEvent(Base):
    __tablename__ = "lead_outbox"
    # The sweeper's query: pending rows whose next attempt is overdue.
    __table_args__ = (Index("ix_lead_outbox_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)  # the event id (Idempotency-Key)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
