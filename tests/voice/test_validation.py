"""Every kind of bad audio is refused before anything is enqueued, in the one error shape;
every accepted format passes. No worker needed: nothing reaches the queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from voice.conftest import voice_settings
from voice.samples import make_clip, truncated
from voice.speech_standin import SpeechStandIn
from voice.support import upload

from backend.core.config import Settings
from backend.voice.validation import validate_audio
from helpers import client_for


def _text_as_mp3(folder: Path) -> tuple[Path, str]:
    path = folder / "notes.mp3"
    path.write_text("Это просто текст, а не аудио. " * 50, encoding="utf-8")
    return path, "notes.mp3"


def _empty(folder: Path) -> tuple[Path, str]:
    path = folder / "empty.ogg"
    path.write_bytes(b"")
    return path, "empty.ogg"


def _truncated(fmt: str) -> Callable[[Path], tuple[Path, str]]:
    def make(folder: Path) -> tuple[Path, str]:
        path = truncated(make_clip(folder, fmt, 4.0), folder)
        return path, f"voice.{fmt}"

    return make


def _too_long(folder: Path) -> tuple[Path, str]:
    return make_clip(folder, "ogg", 61.0, rate=8000), "long.ogg"


def _too_long_without_declared_duration(folder: Path) -> tuple[Path, str]:
    return make_clip(folder, "webm", 61.0, rate=8000), "long.webm"


def _wrong_extension(folder: Path) -> tuple[Path, str]:
    return make_clip(folder, "wav", 1.0), "voice.flac"


def _no_extension(folder: Path) -> tuple[Path, str]:
    return make_clip(folder, "wav", 1.0), "voice"


def _ogg_named_mp3(folder: Path) -> tuple[Path, str]:
    return make_clip(folder, "ogg", 1.0), "voice.mp3"


def _image_named_webm(folder: Path) -> tuple[Path, str]:
    path = folder / "picture.webm"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
    return path, "picture.webm"


BAD_AUDIO: dict[str, tuple[Callable[[Path], tuple[Path, str]], int, str]] = {
    "text renamed .mp3": (_text_as_mp3, 415, "NOT_AUDIO"),
    "zero-length": (_empty, 422, "AUDIO_EMPTY"),
    "truncated m4a": (_truncated("m4a"), 422, "AUDIO_CORRUPT"),
    "truncated mp3": (_truncated("mp3"), 422, "AUDIO_CORRUPT"),
    "truncated wav": (_truncated("wav"), 422, "AUDIO_CORRUPT"),
    "truncated webm": (_truncated("webm"), 422, "AUDIO_CORRUPT"),
    "too long": (_too_long, 422, "AUDIO_TOO_LONG"),
    "too long, no duration header": (_too_long_without_declared_duration, 422, "AUDIO_TOO_LONG"),
    "wrong extension": (_wrong_extension, 415, "UNSUPPORTED_AUDIO_FORMAT"),
    "no extension": (_no_extension, 415, "UNSUPPORTED_AUDIO_FORMAT"),
    "ogg named .mp3": (_ogg_named_mp3, 415, "AUDIO_FORMAT_MISMATCH"),
    "image named .webm": (_image_named_webm, 415, "NOT_AUDIO"),
}


@pytest.fixture
async def strict_client(
    settings: Settings, tmp_path: Path, app_factory: Any, standin: SpeechStandIn, voice_dirs: dict[str, Path]
) -> Any:
    app = await app_factory(voice_settings(settings, tmp_path, voice_dirs, standin, AUDIO_MAX_BYTES=400_000))
    async with client_for(app) as http:
        yield http


def _queued_messages(settings: Settings) -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return sum(int(client.llen(queue)) for queue in ("text", "audio"))
    finally:
        client.close()


@pytest.mark.parametrize("case", list(BAD_AUDIO))
async def test_bad_audio_is_refused_with_a_clear_error(
    case: str, strict_client: httpx.AsyncClient, tmp_path: Path, settings: Settings, voice_dirs: dict[str, Path]
) -> None:
    make, status, code = BAD_AUDIO[case]
    path, name = make(tmp_path)
    before = sorted((voice_dirs["media"] / "uploads").rglob("*")) if (voice_dirs["media"] / "uploads").exists() else []
    response = await upload(strict_client, path, name=name)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert set(body) == {"error_code", "detail"} and len(body["detail"]) > 10
    assert _queued_messages(settings) == 0
    after = sorted((voice_dirs["media"] / "uploads").rglob("*.*"))
    assert [p for p in after if p not in before] == []  # the refused file is not kept


async def test_too_big_is_413_and_not_kept(strict_client: httpx.AsyncClient, tmp_path: Path) -> None:
    big = make_clip(tmp_path, "wav", 15.0)  # 480 kB of PCM, over the 400 kB limit of this app
    response = await upload(strict_client, big)
    assert response.status_code == 413
    # the body cap (middleware) or the audio size check, whichever sees it first
    assert response.json()["error_code"] in {"AUDIO_TOO_LARGE", "PAYLOAD_TOO_LARGE"}


async def test_missing_file_and_bad_reply_format_are_422(strict_client: httpx.AsyncClient, tmp_path: Path) -> None:
    response = await strict_client.post("/ai/voice_upload", data={"voice_reply": "true"})
    assert response.status_code == 422 and response.json()["error_code"] == "VALIDATION_ERROR"
    clip = make_clip(tmp_path, "mp3", 1.0)
    response = await upload(strict_client, clip, audio_format="flac")
    assert response.status_code == 422 and response.json()["error_code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "m4a", "webm", "wav"])
def test_every_accepted_format_passes(fmt: str, tmp_path: Path) -> None:
    info = validate_audio(make_clip(tmp_path, fmt, 3.0), fmt, max_bytes=10_000_000, max_seconds=60)
    assert info.extension == fmt
    assert 2.8 < info.duration_seconds < 3.2


async def test_upload_without_speech_recognition_configured_is_503(
    settings: Settings, tmp_path: Path, app_factory: Any, standin: SpeechStandIn, voice_dirs: dict[str, Path]
) -> None:
    app = await app_factory(voice_settings(settings, tmp_path, voice_dirs, standin, STT_BASE_URL=""))
    async with client_for(app) as http:
        response = await upload(http, make_clip(tmp_path, "mp3", 1.0))
    assert response.status_code == 503
    assert response.json()["error_code"] == "STT_NOT_CONFIGURED"


async def test_missing_ffmpeg_is_503_not_500(
    strict_client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path, "mp3", 1.0)
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffprobe on the PATH
    response = await upload(strict_client, clip)
    assert response.status_code == 503
    assert response.json()["error_code"] == "AUDIO_PROCESSING_FAILED"
    assert "ffprobe" in response.json()["detail"]
