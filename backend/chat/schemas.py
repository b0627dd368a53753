from __future__ import annotations

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
