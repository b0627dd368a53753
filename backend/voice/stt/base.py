"""The speech-to-text interface every provider implements."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Transcript:
    text: str
    provider: str
    language: str | None = None


class SpeechToText(Protocol):
    """Transcribe one audio file (any accepted input format).

    Raises ``TransientProviderError`` when a retry may help, ``PermanentProviderError`` (including
    ``ProviderNotConfigured``) when it cannot. Synchronous: it runs inside Celery workers.
    """

    name: str

    def transcribe(self, path: Path, language: str) -> Transcript: ...
