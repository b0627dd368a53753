"""Encoding speech into the four output formats with ffmpeg: mp3, ogg/opus, m4a (AAC), webm/opus."""

from __future__ import annotations

import os
from pathlib import Path

from backend.voice.constants import ENCODINGS, FFMPEG_ENCODE_TIMEOUT_SECONDS
from backend.voice.exceptions import AudioProcessingError
from backend.voice.ffmpeg import ffprobe, run_tool


def convert(source: Path, target: Path, fmt: str) -> float:
    """Encode ``source`` (any audio ffmpeg reads) as ``fmt`` into ``target``; returns its duration.

    The file appears at ``target`` only when complete (written beside it, then renamed), and the
    result is probed: a file that does not read back as the promised codec is an error.
    """
    encoding = ENCODINGS.get(fmt)
    if encoding is None:
        raise AudioProcessingError(f"Неизвестный формат вывода: {fmt}.")
    partial = target.with_name(f".{target.name}.part")
    argv = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
        "-i", str(source.resolve()),
        "-vn", "-map_metadata", "-1", "-ac", "1",
        *encoding.codec_args,
        "-f", encoding.muxer, str(partial.resolve()),
    ]  # fmt: skip
    try:
        result = run_tool(argv, timeout=FFMPEG_ENCODE_TIMEOUT_SECONDS)
        if result.returncode != 0:
            raise AudioProcessingError(f"ffmpeg не смог записать {fmt}: {result.stderr.strip()[-300:]}")
        probe = ffprobe(partial)
        if probe is None or probe.audio_codec != encoding.codec or not probe.duration:
            raise AudioProcessingError(f"ffmpeg записал нечитаемый файл {fmt}.")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return probe.duration
