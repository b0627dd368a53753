"""The two speech operations, free of HTTP and Celery: transcribe a stored upload, synthesize a reply
into a stored file of one of the four output formats. Tasks and the synchronous TTS endpoint use them."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backend.voice.constants import STT_LANGUAGE, TTS_MAX_CHARS
from backend.voice.conversion import convert
from backend.voice.exceptions import SpeechNotRecognized
from backend.voice.media.base import AUDIO_AREA, MediaStorage, new_key
from backend.voice.stt.base import SpeechToText, Transcript
from backend.voice.tts.base import TextToSpeech


@dataclass(frozen=True)
class StoredAudio:
    relative: str  # the storage key (relative to MEDIA_DIR or the bucket), as in audio_events.file_path
    url: str
    format: str
    duration_seconds: float
    size_bytes: int
    data: bytes  # the encoded audio (the synchronous TTS answer sends it at once)


_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)\s]+)\)")
_URL = re.compile(r"https?://\S+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}.*$", re.MULTILINE)
_MARKUP = re.compile(r"[*_`#>~]+")
_CELL = re.compile(r"[ \t]*\|[ \t]*")
_SPACES = re.compile(r"[ \t]+")


def speakable(text: str, limit: int = TTS_MAX_CHARS) -> str:
    """Markdown reply text as something worth reading aloud: no markup, links or table rules."""
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _CELL.sub(", ", _MARKUP.sub("", text))
    text = "\n".join(_SPACES.sub(" ", line).strip(" ,") for line in text.splitlines())
    text = re.sub(r"\n{2,}", "\n", text).strip()
    if len(text) > limit:
        cut = text[:limit]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("\n"))
        text = cut[: end + 1] if end > limit // 2 else cut
    return text


def transcribe(stt: SpeechToText, path: Path) -> Transcript:
    transcript = stt.transcribe(path, STT_LANGUAGE)
    if not transcript.text:
        raise SpeechNotRecognized("Речь в записи не распознана. Попробуйте сказать ещё раз, ближе к микрофону.")
    return transcript


def synthesize(tts: TextToSpeech, storage: MediaStorage, text: str, fmt: str) -> StoredAudio:
    """Speak ``text``, encode it as ``fmt`` and store it under ``audio/<day>/``."""
    spoken = speakable(text) or "…"
    key = new_key(AUDIO_AREA, fmt)
    with tempfile.TemporaryDirectory(prefix="leadinc-tts-") as workdir:
        native = tts.synthesize(spoken, Path(workdir))
        target = storage.staging_path(key)
        try:
            duration = convert(native, target, fmt)
            data = target.read_bytes()
        except BaseException:
            storage.discard(target)
            raise
        storage.publish(key, target)
    return StoredAudio(
        relative=key,
        url=storage.url_for(key),
        format=fmt,
        duration_seconds=round(duration, 3),
        size_bytes=len(data),
        data=data,
    )
