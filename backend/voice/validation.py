"""Audio input validation, done before anything is enqueued.

Checks, in order: the extension; the size (empty, over the limit); the file's real type from its
first bytes; what ffprobe finds (container and codec must match the extension); the declared
duration; and a full decode with ffmpeg, which measures the real duration and catches truncated or
corrupt files. Rejections are 413, 415 or 422 with a clear Russian detail.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from backend.voice.constants import (
    FFMPEG_DECODE_TIMEOUT_SECONDS,
    INPUT_CODECS,
    INPUT_CONTAINERS,
    INPUT_EXTENSIONS,
    MIN_AUDIO_SECONDS,
    TRUNCATION_TOLERANCE_RATIO,
    TRUNCATION_TOLERANCE_SECONDS,
)
from backend.voice.exceptions import AudioTooLarge, InvalidAudio, UnsupportedAudio
from backend.voice.ffmpeg import ffprobe, run_tool

DECODE_RATE = 8000  # Hz, mono, 16-bit: 16,000 bytes per second of audio
SUPPORTED = ", ".join(INPUT_EXTENSIONS)


@dataclass(frozen=True)
class AudioInfo:
    extension: str
    codec: str
    duration_seconds: float
    size_bytes: int


def extension_of(filename: str | None) -> str:
    """The lower-case extension of an upload, or 415 when it is not one we accept."""
    name = (filename or "").strip()
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in INPUT_EXTENSIONS:
        shown = f".{ext}" if ext else "без расширения"
        raise UnsupportedAudio(
            f"Формат файла {shown} не поддерживается. Подойдут: {SUPPORTED}.", error_code="UNSUPPORTED_AUDIO_FORMAT"
        )
    return ext


def sniff(head: bytes) -> str | None:
    """The container family from the first bytes of a file, or ``None`` when it is not audio we know."""
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0x3:
        return "mp3"  # an MPEG audio frame header (layer bits 00 would be AAC ADTS)
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    return None


def _wav_is_truncated(path: Path, size: int) -> bool:
    """A RIFF/WAVE file whose ``data`` chunk promises more bytes than the file holds."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    offset = 12
    while offset + 8 <= len(head):
        chunk_id, chunk_size = head[offset : offset + 4], struct.unpack("<I", head[offset + 4 : offset + 8])[0]
        if chunk_id == b"data":
            return bool(chunk_size not in (0, 0xFFFFFFFF) and chunk_size > size - (offset + 8))
        offset += 8 + chunk_size + (chunk_size & 1)
    return False


def _decoded_seconds(path: Path, limit_seconds: float) -> tuple[float, bool]:
    """Decode up to ``limit_seconds`` of the first audio stream; (seconds decoded, decoder complained)."""
    argv = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error",
        "-i", str(path.resolve()),
        "-map", "0:a:0", "-t", f"{limit_seconds:.2f}",
        "-ac", "1", "-ar", str(DECODE_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    result = run_tool(argv, timeout=FFMPEG_DECODE_TIMEOUT_SECONDS)
    broken = result.returncode != 0 or "ended prematurely" in result.stderr or "Invalid data" in result.stderr
    return len(result.stdout) / (2 * DECODE_RATE), broken


def validate_audio(path: Path, extension: str, *, max_bytes: int, max_seconds: float) -> AudioInfo:
    """Everything about one uploaded file, or the 413/415/422 that rejects it."""
    if extension not in INPUT_EXTENSIONS:
        raise UnsupportedAudio(f"Формат .{extension} не поддерживается. Подойдут: {SUPPORTED}.")
    size = path.stat().st_size
    if size == 0:
        raise InvalidAudio("Файл пустой (0 байт).", error_code="AUDIO_EMPTY")
    if size > max_bytes:
        raise AudioTooLarge(f"Файл больше допустимого: {size} байт при лимите {max_bytes} байт.")
    with path.open("rb") as fh:
        family = sniff(fh.read(16))
    if family is None:
        raise UnsupportedAudio(
            f"Содержимое файла не похоже на аудиозапись. Подойдут: {SUPPORTED}.", error_code="NOT_AUDIO"
        )
    if family != extension:
        raise UnsupportedAudio(
            f"Расширение .{extension} не соответствует содержимому файла ({family}).",
            error_code="AUDIO_FORMAT_MISMATCH",
        )
    probe = ffprobe(path)
    if probe is None:
        raise InvalidAudio("Файл повреждён или обрезан: аудио не читается.", error_code="AUDIO_CORRUPT")
    if probe.audio_codec is None:
        raise UnsupportedAudio("В файле нет звуковой дорожки.", error_code="NOT_AUDIO")
    if not probe.containers & INPUT_CONTAINERS[extension]:
        raise UnsupportedAudio(
            f"Контейнер {','.join(sorted(probe.containers))} не соответствует расширению .{extension}.",
            error_code="AUDIO_FORMAT_MISMATCH",
        )
    if probe.audio_codec not in INPUT_CODECS[extension]:
        raise UnsupportedAudio(
            f"Кодек {probe.audio_codec} не поддерживается в файлах .{extension}.", error_code="UNSUPPORTED_AUDIO_CODEC"
        )
    too_long = InvalidAudio(f"Запись длиннее допустимых {max_seconds:g} с.", error_code="AUDIO_TOO_LONG")
    declared = probe.duration
    if declared is not None and declared > max_seconds + TRUNCATION_TOLERANCE_SECONDS:
        raise too_long
    if extension == "wav" and _wav_is_truncated(path, size):
        raise InvalidAudio("Файл обрезан: данных меньше, чем указано в заголовке.", error_code="AUDIO_CORRUPT")
    decoded, broken = _decoded_seconds(path, max_seconds + 1.0)
    if decoded > max_seconds + TRUNCATION_TOLERANCE_SECONDS:
        raise too_long
    missing = (declared or 0.0) - decoded
    if broken or missing > max(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_RATIO * (declared or 0.0)):
        raise InvalidAudio("Файл повреждён или обрезан: аудио не декодируется целиком.", error_code="AUDIO_CORRUPT")
    if decoded < MIN_AUDIO_SECONDS:
        raise InvalidAudio("В записи нет звука.", error_code="AUDIO_EMPTY")
    return AudioInfo(extension=extension, codec=probe.audio_codec, duration_seconds=round(decoded, 3), size_bytes=size)
