"""The user account (fastapi-users compatible) with trial and subscription dates, and the
conversation session row that the ``sessionid`` cookie names (guest or user)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.orm import Base, CreatedAt, UUIDPrimaryKey, utcnow


class User(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    login: Mapped[str | None] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(1024))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    city: Mapped[str | None] = mapped_column(String(200))
    niche: Mapped[str | None] = mapped_column(String(300))
    trial_ends_at: Mapped[datetime | None]
    subscription_ends_at: Mapped[datetime | None]


class ChatSession(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "chat_sessions"

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    is_guest: Mapped[bool] = mapped_column(default=True)
    funnel_stage: Mapped[int | None] = mapped_column(Integer)
    contact: Mapped[str | None] = mapped_column(String(320))
    city: Mapped[str | None] = mapped_column(String(200))
    niche: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Handoff to a human (chat.handoff): assistant | waiting | taken | closed; who took it and when it changed.
    handoff_state: Mapped[str] = mapped_column(String(16), default="assistant", server_default="assistant")
    handoff_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handoff_at: Mapped[datetime | None] = mapped_column()
    # Where the visitor came from (auth.schemas.Visit, passed by the chat page when the session opened).
    landing_page: Mapped[str | None] = mapped_column(String(1000))
    referrer: Mapped[str | None] = mapped_column(String(1000))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
