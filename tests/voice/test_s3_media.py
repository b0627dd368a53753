"""Media on a real S3-compatible server (SeaweedFS): the voice chain with ``MEDIA_STORAGE=s3`` keeps
nothing on the API's or the worker's disk, serves reply audio through short-lived presigned URLs,
refuses an upload clearly while the server is down (nothing half-accepted) and works again once it
is back; the retention job deletes by age inside the bucket. The worker runs on a private Redis so
the shared voice worker (local media) cannot take these tasks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import obstore
import pytest
from faults.support import RedisServer
from s3_server import SeaweedS3
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from voice.samples import make_clip, probe
from voice.speech_standin import SpeechStandIn
from voice.support import upload, wait_task
from voice.workers import WorkerProcess

from backend.core.config import Settings
from backend.voice.media.s3 import S3MediaStorage
from backend.voice.models import AudioEvent
from helpers import ADMIN_TOKEN, TEST_SECRET, client_for, derive_settings, make_settings

BUCKET = "voice-media"


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def s3_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("s3-redis")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def s3_worker(
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
    s3_redis: RedisServer,
    seaweed: SeaweedS3,
    speech: SpeechStandIn,
    knowledge_dirs: dict[str, Any],
) -> Iterator[WorkerProcess]:
    root = tmp_path_factory.mktemp("s3-worker")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STT_", "TTS_", "ELEVENLABS_", "S3_"))}
    env |= {k: str(v) for k, v in knowledge_dirs.items()} | seaweed.settings(BUCKET)
    env |= {
        "DATABASE_URL": database_url,
        "REDIS_URL": s3_redis.url,
        "STT_BASE_URL": speech.base_url,
        "TTS_PROVIDER": "espeak",
        "ENVIRONMENT": "test",
        "SECRET": TEST_SECRET,
        "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
        "VAR_DIR": str(root / "var"),
        "MEDIA_DIR": str(root / "media"),  # must stay empty: the worker's media lives in the bucket
        "PYTHONUNBUFFERED": "1",
    }
    logs = root / "logs"
    logs.mkdir()
    worker = WorkerProcess(env, logs).start()
    worker.media_dir = root / "media"  # type: ignore[attr-defined]
    yield worker
    worker.stop()


def s3_settings(
    settings: Settings, tmp_path: Path, redis: RedisServer, seaweed: SeaweedS3, speech: SpeechStandIn
) -> Settings:
    return derive_settings(
        settings,
        tmp_path,
        REDIS_URL=redis.url,
        MEDIA_DIR=tmp_path / "api-media",
        STT_BASE_URL=speech.base_url,
        TTS_PROVIDER="espeak",
        RATE_BURST="1000/10 seconds",
        RATE_BURST_IP="1000/10 seconds",
        **seaweed.settings(BUCKET),
    )


def bucket_keys(seaweed: SeaweedS3, prefix: str) -> list[str]:
    return [meta["path"] for batch in obstore.list(seaweed.store(BUCKET), prefix=prefix) for meta in batch]


def audio_event_count(settings: Settings) -> int:
    engine = create_engine(settings.database_url_sync)
    with Session(engine) as db:
        count = db.scalar(select(func.count()).select_from(AudioEvent))
    engine.dispose()
    return int(count or 0)


def local_files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


async def test_voice_chain_keeps_media_in_the_bucket_and_serves_presigned_links(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    seaweed: SeaweedS3,
    s3_redis: RedisServer,
    s3_worker: WorkerProcess,
    standin: SpeechStandIn,
) -> None:
    standin.transcript = "Сколько стоит подключение?"
    app_settings = s3_settings(settings, tmp_path, s3_redis, seaweed, standin)
    app = await app_factory(app_settings)
    async with client_for(app) as http:
        accepted = await upload(http, make_clip(tmp_path, "ogg", 2.0), voice_reply="true", audio_format="ogg")
        assert accepted.status_code == 202, accepted.text
        body = await wait_task(http, accepted.json()["task_id"], within=60)
        assert body["status"] == "done", body
        result = body["result"]
        assert result["transcript"] == "Сколько стоит подключение?"
        url = result["audio_url"]
        assert url.startswith("/media/audio/") and url.endswith(".ogg")

        served = await http.get(url)
        assert served.status_code == 307 and served.headers["cache-control"] == "no-store"
        link = served.headers["location"]
        assert link.startswith(f"{seaweed.endpoint}/{BUCKET}/audio/")
        assert parse_qs(urlsplit(link).query)["X-Amz-Expires"] == [str(app_settings.S3_PRESIGN_SECONDS)]
        missing = await http.get(url.replace(".ogg", ".mp3"))
        assert missing.status_code == 404 and missing.json()["error_code"] == "NOT_FOUND"

        direct = await http.post("/ai/tts", json={"text": "Здравствуйте!", "format": "mp3", "sync": True})
        assert direct.status_code == 200 and direct.headers["content-type"] == "audio/mpeg"
        assert direct.headers["x-audio-url"].startswith("/media/audio/")

    async with httpx.AsyncClient() as outside:  # the visitor's browser follows the link
        audio = await outside.get(link)
        expired = await outside.get(link.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert audio.status_code == 200
    (tmp_path / "reply.ogg").write_bytes(audio.content)
    assert probe(tmp_path / "reply.ogg")["codec_name"] == "opus"
    assert expired.status_code == 403  # a tampered link is refused by the server itself

    assert len(bucket_keys(seaweed, "uploads/")) >= 1
    assert {k.rsplit(".", 1)[1] for k in bucket_keys(seaweed, "audio/")} >= {"ogg", "mp3"}
    # nothing was kept on the API's or the worker's disk (staging files are removed after the put)
    worker_media = s3_worker.media_dir  # type: ignore[attr-defined]
    staging = [app_settings.VAR_DIR / "media-staging", Path(s3_worker.env["VAR_DIR"]) / "media-staging"]
    assert local_files(app_settings.media_dir, worker_media, *staging) == []


async def test_storage_down_during_upload_is_a_clear_503_and_works_again_after(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    seaweed: SeaweedS3,
    s3_redis: RedisServer,
    s3_worker: WorkerProcess,
    standin: SpeechStandIn,
) -> None:
    app_settings = s3_settings(settings, tmp_path, s3_redis, seaweed, standin)
    app = await app_factory(app_settings)
    clip = make_clip(tmp_path, "mp3", 1.0)
    events_before = audio_event_count(settings)
    async with client_for(app) as http:
        seaweed.kill()
        try:
            started = time.monotonic()
            refused = await upload(http, clip)
            took = time.monotonic() - started
        finally:
            seaweed.start()
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert body["error_code"] == "MEDIA_STORAGE_UNAVAILABLE"
        assert body["detail"].startswith("Хранилище медиафайлов недоступно. Попробуйте через минуту.")
        assert refused.headers["retry-after"] == "30"
        assert took < app_settings.S3_TIMEOUT_SECONDS + 5
        # nothing half-accepted: no audio event, no queued task, no staged file left behind
        assert audio_event_count(settings) == events_before
        assert local_files(app_settings.VAR_DIR / "media-staging") == []

        again = await upload(http, clip)  # the same client, once the server is back
        assert again.status_code == 202, again.text
        done = await wait_task(http, again.json()["task_id"], within=60)
    assert done["status"] == "done", done
    assert done["result"]["transcript"] == standin.transcript


def test_cleanup_deletes_by_age_inside_the_bucket(tmp_path: Path, seaweed: SeaweedS3) -> None:
    settings = make_settings(tmp_path, **seaweed.settings("retention"))
    storage = S3MediaStorage(settings)
    store = seaweed.store("retention")
    for key in ("audio/2025-01-01/a.mp3", "uploads/2025-01-01/b.ogg", "other/keep.txt"):
        obstore.put(store, key, b"x" * 10)

    fresh = storage.cleanup(7)
    assert (fresh.deleted, fresh.kept, fresh.errors) == (0, 2, 0)
    later = time.time() + 8 * 86400  # a week and a day on, both media objects are past retention
    dry = storage.cleanup(7, now=later, dry_run=True)
    assert (dry.deleted, dry.deleted_bytes) == (2, 20)
    assert len([m for batch in obstore.list(store) for m in batch]) == 3  # a dry run deletes nothing
    report = storage.cleanup(7, now=later)
    assert (report.deleted, report.errors) == (2, 0)
    left = [meta["path"] for batch in obstore.list(store) for meta in batch]
    assert left == ["other/keep.txt"]  # only the media areas are swept
    with pytest.raises(ValueError):
        storage.cleanup(0)
