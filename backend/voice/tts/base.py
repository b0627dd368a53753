"""The text-to-speech interface every provider implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class TextToSpeech(Protocol):
    """Speak ``text`` into a file inside ``workdir`` (any format ffmpeg reads) and return its path.

    Conversion to the requested output format happens afterwards, with ffmpeg. Raises
    ``TransientProviderError`` when a retry may help, ``PermanentProviderError`` (including
    ``ProviderNotConfigured``) or ``AudioProcessingError`` when it cannot. Synchronous.
    """

    name: str

    def synthesize(self, text: str, workdir: Path) -> Path: ...
