from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from backend.core.inputs import StoredText

AudioFormat = Literal["mp3", "ogg", "m4a", "webm"]


class ChatRequest(BaseModel):
    message: StoredText = Field(min_length=1, max_length=4000, description="The visitor's message, 1-4000 characters")
    voice: bool = False
    audio_format: AudioFormat = "mp3"

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be blank")
        return value


class ChatMessage(BaseModel):
    id: uuid.UUID
    role: str
    text: str
    created_at: datetime
    manager: bool = Field(description="true: written by a human manager from the console")
    notice: bool = Field(default=False, description="true: the team is busy (HANDOFF_TIMEOUT_MINUTES passed)")


class NewMessages(BaseModel):
    handoff_state: str = Field(description="assistant | waiting | taken | closed: poll while waiting or taken")
    messages: list[ChatMessage]
