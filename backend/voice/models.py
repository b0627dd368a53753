"""One row per speech-to-text or text-to-speech operation."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.orm import Base, CreatedAt, UUIDPrimaryKey


class AudioEvent(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "audio_events"

    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[str] = mapped_column(String(8))  # stt | tts
    format: Mapped[str | None] = mapped_column(String(16))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    file_path: Mapped[str | None] = mapped_column(String(1024))
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    error: Mapped[str | None] = mapped_column(Text)
