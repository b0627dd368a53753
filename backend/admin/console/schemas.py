from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from backend.auth.schemas import Visit
from backend.core.inputs import StoredText


class ConversationSummary(BaseModel):
    id: uuid.UUID
    user_email: str | None = Field(description="the account's e-mail; null for a guest conversation")
    started_at: datetime
    last_message_at: datetime
    messages: int
    scenarios: list[str] = Field(description="scenarios of the conversation's turns, sorted")
    fallbacks: int = Field(description="assistant turns that fell back to the offline model or failed")
    funnel_stage: int | None
    handoff_state: str = Field(description="assistant | waiting (for a human) | taken (by handoff_by) | closed")
    handoff_by: uuid.UUID | None = Field(default=None, description="the manager who took it (null: X-Admin-Token)")


class ConversationList(BaseModel):
    total: int
    limit: int
    offset: int
    conversations: list[ConversationSummary]


class TranscriptMessage(BaseModel):
    id: uuid.UUID
    role: str
    text: str
    created_at: datetime
    scenario: str | None = None
    action: str | None = None
    sources: list[Any] | None = None
    tool_calls: list[Any] | None = None
    provider: str | None = None
    fallback: bool | None = None
    fallback_reason: str | None = None
    latency_ms: float | None = None
    manager: str | None = Field(default=None, description="the manager who wrote it (a user id, or admin-token)")


class Transcript(BaseModel):
    id: uuid.UUID
    user_email: str | None
    funnel_stage: int | None
    created_at: datetime
    handoff_state: str
    handoff_by: uuid.UUID | None = None
    visit: Visit = Field(description="where the visitor came from, as the chat page passed it")
    messages: list[TranscriptMessage]


class Lead(BaseModel):
    id: uuid.UUID
    email: str = Field(description="the contact the account registered with")
    city: str | None
    niche: str | None
    registered_at: datetime
    trial_ends_at: datetime | None
    first_message_at: datetime | None
    last_message_at: datetime | None
    stage_reached: int | None = Field(description="the highest funnel stage any of its conversations reached")
    visit: Visit = Field(description="where the visitor came from: the account's first conversation's visit")


class LeadList(BaseModel):
    total: int
    limit: int
    offset: int
    leads: list[Lead]


class FunnelDay(BaseModel):
    day: str = Field(description="UTC date, YYYY-MM-DD")
    visitors: int = Field(description="conversations with a visitor message that day")
    stage1: int = Field(description="conversations that reached funnel stage 1 or later that day")
    stage2: int = Field(description="conversations that reached funnel stage 2 or later that day")
    registered: int = Field(description="accounts created that day")


class ScenarioShare(BaseModel):
    scenario: str
    turns: int
    fallbacks: int


class FunnelStats(BaseModel):
    days: list[FunnelDay]
    scenarios: list[ScenarioShare]
    assistant_turns: int
    fallback_rate: float = Field(description="share of assistant turns that fell back or failed, 0..1")


class ManagerReply(BaseModel):
    text: StoredText = Field(min_length=1, max_length=4000, description="the manager's message to the visitor")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class HandoffStatus(BaseModel):
    id: uuid.UUID
    handoff_state: str
    handoff_by: uuid.UUID | None = None


class PostedReply(BaseModel):
    id: uuid.UUID
    created_at: datetime
