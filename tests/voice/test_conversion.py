"""Offline speech with the real espeak-ng, encoded by the real ffmpeg into all four output formats,
each probed; storage names and places."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from voice.samples import probe

from backend.voice.constants import ENCODINGS
from backend.voice.exceptions import AudioProcessingError
from backend.voice.media.base import AUDIO_AREA, new_key
from backend.voice.media.local import LocalMediaStorage
from backend.voice.speech import speakable, synthesize
from backend.voice.tts.espeak import EspeakSynthesizer

CONTAINERS = {"mp3": "mp3", "ogg": "ogg", "m4a": "mov,mp4,m4a,3gp,3g2,mj2", "webm": "matroska,webm"}
TEXT = "Здравствуйте! Я помогу подобрать заявки для вашего бизнеса. Какая у вас ниша?"


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "m4a", "webm"])
def test_espeak_speech_in_every_output_format(fmt: str, tmp_path: Path) -> None:
    storage = LocalMediaStorage(tmp_path / "media", "/media")
    stored = synthesize(EspeakSynthesizer("ru"), storage, TEXT, fmt)
    path = storage.resolve(stored.relative)

    probed = probe(path)
    assert probed["format_name"] == CONTAINERS[fmt]
    assert probed["codec_name"] == ENCODINGS[fmt].codec
    assert float(probed["duration"]) > 2.0
    assert stored.duration_seconds == pytest.approx(float(probed["duration"]), abs=0.2)
    assert stored.size_bytes == path.stat().st_size == len(stored.data) > 1000

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert re.fullmatch(rf"audio/{day}/[A-Za-z0-9_-]{{32}}\.{fmt}", stored.relative)
    assert stored.url == f"/media/{stored.relative}"
    assert not list(path.parent.glob(".*"))  # no partial files left behind


def test_names_are_unguessable_and_unique(tmp_path: Path) -> None:
    storage = LocalMediaStorage(tmp_path, "https://cdn.example.com/media/")
    names = {new_key(AUDIO_AREA, "mp3") for _ in range(200)}
    assert len(names) == 200
    assert storage.url_for(new_key(AUDIO_AREA, "ogg")).startswith("https://cdn.example.com/media/audio/")


def test_stored_paths_cannot_leave_the_media_directory(tmp_path: Path) -> None:
    storage = LocalMediaStorage(tmp_path / "media", "/media")
    with pytest.raises(ValueError):
        storage.resolve("../secret.txt")
    assert storage.public_file("2024-01-01", "../../x.mp3") is None
    assert storage.public_file("..", "a" * 32 + ".mp3") is None


def test_markdown_is_not_read_aloud() -> None:
    text = "**Тариф** «Старт» — [подробнее](https://example.com/x)\n\n| Показатель | Значение |\n|---|---|\n| Заявок | 1200 |"
    spoken = speakable(text)
    assert "*" not in spoken and "https" not in spoken and "---" not in spoken and "|" not in spoken
    assert "Тариф «Старт» — подробнее" in spoken and "Заявок, 1200" in spoken
    assert len(speakable("Слово. " * 2000, limit=100)) <= 100


def test_a_missing_program_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AudioProcessingError, match="Не найдена программа espeak-ng"):
        EspeakSynthesizer("ru").synthesize("текст", tmp_path)
