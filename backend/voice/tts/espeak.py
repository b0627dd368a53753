"""Offline speech with ``espeak-ng`` (Debian package ``espeak-ng``), Russian voice by default.

The text goes in on stdin, never on the command line.
"""

from __future__ import annotations

from pathlib import Path

from backend.voice.constants import ESPEAK_TIMEOUT_SECONDS, ESPEAK_WORDS_PER_MINUTE
from backend.voice.exceptions import AudioProcessingError
from backend.voice.ffmpeg import run_tool


class EspeakSynthesizer:
    name = "espeak"

    def __init__(self, voice: str = "ru", words_per_minute: int = ESPEAK_WORDS_PER_MINUTE) -> None:
        self.voice = voice
        self.words_per_minute = words_per_minute

    def synthesize(self, text: str, workdir: Path) -> Path:
        target = (workdir / "espeak.wav").resolve()
        argv = [
            "espeak-ng",
            "-v",
            self.voice,
            "-s",
            str(self.words_per_minute),
            "-b",
            "1",
            "-w",
            str(target),
            "--stdin",
        ]
        result = run_tool(argv, timeout=ESPEAK_TIMEOUT_SECONDS, stdin=text.encode("utf-8"))
        if result.returncode != 0 or not target.is_file() or target.stat().st_size <= 44:
            raise AudioProcessingError(f"espeak-ng не смог озвучить текст: {result.stderr.strip()[-300:]}")
        return target
