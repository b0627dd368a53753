"""Audio files for the tests, made with the real ffmpeg (a tone: the STT stand-in does not listen)."""

from __future__ import annotations

import subprocess
from pathlib import Path

CODECS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "48k"],
    "ogg": ["-c:a", "libopus", "-b:a", "24k"],
    "m4a": ["-c:a", "aac", "-b:a", "48k"],
    "webm": ["-c:a", "libopus", "-b:a", "24k"],
    "wav": ["-c:a", "pcm_s16le"],
}


def make_clip(folder: Path, fmt: str, seconds: float = 2.0, *, name: str | None = None, rate: int = 16000) -> Path:
    path = folder / (name or f"clip-{seconds:g}s.{fmt}")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"sine=frequency=440:duration={seconds}", "-ac", "1", "-ar", str(rate),
         *CODECS[fmt], str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def truncated(source: Path, folder: Path, fraction: float = 0.5) -> Path:
    data = source.read_bytes()
    path = folder / f"truncated-{source.name}"
    path.write_bytes(data[: int(len(data) * fraction) | 1])  # odd length: cut mid-sample too
    return path


def probe(path: Path) -> dict[str, str]:
    """format_name, codec_name and duration of a file, as ffprobe reports them."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=format_name,duration:stream=codec_name",
         "-of", "default=noprint_wrappers=1", str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
