"""The voice chain end to end against a real worker: upload → stt (audio queue) → chat turn (text
queue) → tts (audio queue); status step by step; ownership; audio events; /ai/tts."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from voice.samples import make_clip, probe
from voice.speech_standin import SpeechStandIn
from voice.support import upload, wait_task
from voice.workers import WorkerProcess

from backend.core.config import Settings
from backend.voice.models import AudioEvent

REPLY_KEYS = {"scenario", "action", "reply", "fields", "stage", "sources", "dashboard", "audio"}


def assert_reply_object(reply: dict[str, object]) -> None:
    """The reply object of SPEC section 3, whatever the assistant answered."""
    assert set(reply) >= REPLY_KEYS, reply
    assert reply["scenario"] in {"FAQ", "ANALYTICS", "REGISTRATION", "OFFTOPIC"}
    assert isinstance(reply["reply"], str) and reply["reply"].strip()


def _events(settings: Settings) -> list[AudioEvent]:
    engine = create_engine(settings.database_url_sync)
    with Session(engine) as db:
        rows = list(db.scalars(select(AudioEvent).order_by(AudioEvent.created_at)))
    engine.dispose()
    return rows


async def test_upload_to_transcript_reply_and_audio(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, standin: SpeechStandIn, tmp_path: Path, settings: Settings
) -> None:
    standin.transcript = "Сколько стоит подключение?"
    response = await upload(voice_client, make_clip(tmp_path, "ogg", 2.0), voice_reply="true", audio_format="ogg")
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status_url"] == f"/ai/tasks/{accepted['task_id']}"

    body = await wait_task(voice_client, accepted["task_id"])
    assert body["status"] == "done", body
    assert [step["name"] for step in body["steps"]] == ["stt", "chat", "tts"]
    assert all(step["status"] == "done" for step in body["steps"])
    result = body["result"]
    assert result["transcript"] == "Сколько стоит подключение?"
    assert_reply_object(result["reply"])
    assert result["audio_url"].startswith("/media/audio/") and result["audio_url"].endswith(".ogg")

    # the STT request carried the Russian hint and the configured model
    assert standin.transcriptions[-1]["language"] == "ru"
    assert standin.transcriptions[-1]["model"] == "whisper-1"

    # the produced audio is served in embedded mode and really is Ogg/Opus
    audio = await voice_client.get(result["audio_url"])
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/ogg"
    (tmp_path / "reply.ogg").write_bytes(audio.content)
    probed = probe(tmp_path / "reply.ogg")
    assert probed["format_name"] == "ogg" and probed["codec_name"] == "opus"
    assert float(probed["duration"]) > 0.5

    events = _events(settings)
    assert [(e.direction, e.status) for e in events] == [("stt", "done"), ("tts", "done")]
    stt, tts = events
    assert stt.format == "ogg" and stt.size_bytes and stt.duration_seconds and 1.5 < stt.duration_seconds < 2.5
    assert tts.format == "ogg" and tts.size_bytes and tts.duration_seconds and tts.file_path
    assert tts.file_path.startswith("audio/") and stt.file_path and stt.file_path.startswith("uploads/")


async def test_without_voice_reply_the_chain_stops_at_the_chat_turn(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, standin: SpeechStandIn, tmp_path: Path
) -> None:
    response = await upload(voice_client, make_clip(tmp_path, "mp3", 1.0))
    assert response.status_code == 202, response.text
    body = await wait_task(voice_client, response.json()["task_id"])
    assert body["status"] == "done"
    assert [step["name"] for step in body["steps"]] == ["stt", "chat"]
    assert body["result"]["transcript"] == standin.transcript
    assert_reply_object(body["result"]["reply"])
    assert body["result"]["audio_url"] is None


async def test_only_the_creating_session_can_read_a_task(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    response = await upload(voice_client, make_clip(tmp_path, "wav", 1.0))
    task_id = response.json()["task_id"]
    await wait_task(voice_client, task_id)

    transport = voice_client._transport  # the same app, without the first visitor's cookies
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as stranger:
        other = await stranger.get(f"/ai/tasks/{task_id}")
    assert other.status_code == 404
    assert other.json() == {"error_code": "TASK_NOT_FOUND", "detail": "Задача не найдена."}

    unknown = await voice_client.get("/ai/tasks/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "TASK_NOT_FOUND"


async def test_tts_task_and_synchronous_short_answer(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    queued = await voice_client.post("/ai/tts", json={"text": "Добрый день! Чем могу помочь?", "format": "m4a"})
    assert queued.status_code == 202, queued.text
    body = await wait_task(voice_client, queued.json()["task_id"])
    assert body["status"] == "done" and body["kind"] == "tts"
    assert [step["name"] for step in body["steps"]] == ["tts"]
    url = body["result"]["audio_url"]
    assert url.endswith(".m4a")
    audio = await voice_client.get(url)
    (tmp_path / "a.m4a").write_bytes(audio.content)
    assert probe(tmp_path / "a.m4a")["codec_name"] == "aac"

    direct = await voice_client.post("/ai/tts", json={"text": "Здравствуйте!", "format": "webm", "sync": True})
    assert direct.status_code == 200
    assert direct.headers["content-type"] == "audio/webm"
    assert direct.headers["x-audio-url"].startswith("/media/audio/")
    (tmp_path / "b.webm").write_bytes(direct.content)
    assert probe(tmp_path / "b.webm")["codec_name"] == "opus"


async def test_media_urls_do_not_escape_the_media_directory(voice_client: httpx.AsyncClient) -> None:
    for path in (
        "/media/audio/2024-01-01/..%2F..%2Fetc%2Fpasswd",
        "/media/audio/../../etc/passwd",
        "/media/audio/x/y.mp3",
    ):
        response = await voice_client.get(path)
        assert response.status_code == 404, path
