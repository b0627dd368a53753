"""Request and response bodies of the voice endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from backend.core.inputs import StoredText
from backend.voice.constants import TTS_MAX_CHARS, OutputFormat

TaskState = Literal["queued", "running", "retrying", "done", "failed", "skipped"]
OverallState = Literal["queued", "running", "done", "failed"]


class TaskAccepted(BaseModel):
    task_id: str
    status_url: str


class TTSRequest(BaseModel):
    text: StoredText = Field(min_length=1, max_length=TTS_MAX_CHARS, description="Text to speak (Russian)")
    format: OutputFormat = Field("mp3", description="mp3 (web), ogg (Opus, Telegram), m4a (AAC, Apple), webm (Opus)")
    sync: bool = Field(False, description="Answer with the audio itself when the text is short (≤300 characters)")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class StepStatus(BaseModel):
    name: Literal["stt", "chat", "tts"]
    status: TaskState


class TaskError(BaseModel):
    error_code: str
    detail: str


class TaskResult(BaseModel):
    transcript: str | None = None
    reply: dict[str, Any] | None = None  # the reply object of SPEC section 3
    audio_url: str | None = None


class TaskStatusOut(BaseModel):
    task_id: str
    kind: Literal["voice", "tts"]
    status: OverallState
    steps: list[StepStatus]
    result: TaskResult = Field(default_factory=TaskResult, description="Filled step by step as results arrive")
    error: TaskError | None = None
