"""Running ffprobe, ffmpeg and espeak-ng: fixed argument lists, never a shell, always a timeout."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.voice.constants import FFPROBE_TIMEOUT_SECONDS
from backend.voice.exceptions import AudioProcessingError

INSTALL_HINT = "установите пакет (Debian/Ubuntu: apt-get install ffmpeg espeak-ng)"


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: bytes
    stderr: str


def run_tool(argv: list[str], *, timeout: float, stdin: bytes | None = None) -> ToolResult:
    """Run one media tool. A missing binary or a timeout is an ``AudioProcessingError``."""
    try:
        completed = subprocess.run(  # noqa: S603 - argv is a fixed list built by this package
            argv, input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise AudioProcessingError(f"Не найдена программа {argv[0]}: {INSTALL_HINT}.") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioProcessingError(f"{argv[0]} не уложился в {timeout:.0f} с.") from exc
    return ToolResult(completed.returncode, completed.stdout, completed.stderr.decode("utf-8", "replace")[-4000:])


@dataclass(frozen=True)
class Probe:
    """What ffprobe says about a file: container names, the first audio stream, declared duration."""

    containers: frozenset[str]
    audio_codec: str | None
    sample_rate: int | None
    channels: int | None
    duration: float | None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def ffprobe(path: Path) -> Probe | None:
    """Probe a file; ``None`` when ffprobe cannot read it at all (corrupt, truncated, not media)."""
    argv = [
        "ffprobe", "-v", "error", "-hide_banner",
        "-print_format", "json", "-show_format", "-show_streams",
        str(path.resolve()),  # absolute: never read as an option or a protocol
    ]  # fmt: skip
    result = run_tool(argv, timeout=FFPROBE_TIMEOUT_SECONDS)
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    fmt = data.get("format") or {}
    audio = next((s for s in data.get("streams") or [] if s.get("codec_type") == "audio"), None)
    duration = _number(fmt.get("duration"))
    if audio is not None and duration is None:
        duration = _number(audio.get("duration"))
    rate = _number(audio.get("sample_rate")) if audio else None
    return Probe(
        containers=frozenset(str(fmt.get("format_name", "")).split(",")) - {""},
        audio_codec=str(audio.get("codec_name")) if audio else None,
        sample_rate=int(rate) if rate else None,
        channels=int(audio["channels"]) if audio and audio.get("channels") else None,
        duration=duration,
    )
