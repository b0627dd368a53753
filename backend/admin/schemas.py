from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

MAX_GRANT_DAYS = 3650


class UserSummary(BaseModel):
    id: uuid.UUID
    email: str
    created_at: datetime
    city: str | None
    niche: str | None
    is_active: bool
    is_superuser: bool
    is_verified: bool
    trial_ends_at: datetime | None
    subscription_ends_at: datetime | None
    whitelisted: bool = Field(description="the e-mail is in SUBSCRIPTION_WHITELIST (access regardless of dates)")
    has_access: bool


class UserDetail(UserSummary):
    sessions: int
    messages: int
    funnel_events: int
    audio_files: int
    last_message_at: datetime | None


class UserList(BaseModel):
    total: int
    users: list[UserSummary]


class GrantRequest(BaseModel):
    days: int = Field(ge=1, le=MAX_GRANT_DAYS, description="extends the subscription by this many days")


class DeletionReport(BaseModel):
    """What an erasure removed (152-FZ / GDPR)."""

    user_id: uuid.UUID
    email: str
    sessions: int = 0
    messages: int = 0
    funnel_events: int = 0
    audio_events: int = 0
    media_files: int = Field(default=0, description="audio files deleted from MEDIA_DIR")
    media_missing: int = Field(default=0, description="audio rows whose file was already gone")
    redis_sessions: int = Field(default=0, description="live conversation states deleted from Redis")
    lead_events: int = Field(default=0, description="lead outbox rows (delivered or not) deleted")
