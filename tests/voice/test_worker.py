"""The Celery app: configuration, routing, limits, worker commands; the embedded default (a worker on
the embedded redis-server's unix socket, SQLite); eager mode when no worker can run."""

from __future__ import annotations

import os
import signal
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
from voice.conftest import voice_settings
from voice.samples import make_clip
from voice.speech_standin import SpeechStandIn
from voice.support import upload
from voice.workers import WorkerProcess

from backend.core.celery import broker_url, celery_config, create_celery_app, embedded_worker_commands
from backend.core.config import Settings
from backend.core.redis import ensure_embedded_redis
from backend.voice.constants import TASK_LIMITS
from helpers import ADMIN_TOKEN, TEST_SECRET, client_for, make_settings, run_alembic


def test_redis_urls_for_kombu() -> None:
    assert (
        broker_url("unix:///srv/var/redis/redis.sock?db=0") == "redis+socket:///srv/var/redis/redis.sock?virtual_host=0"
    )
    assert broker_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock?virtual_host=0"
    assert broker_url("redis://cache:6379/2") == "redis://cache:6379/2"


def test_reliability_settings(tmp_path: Path) -> None:
    config = celery_config(make_settings(tmp_path, CELERY_VISIBILITY_TIMEOUT=1800), "redis://h:6379/0")
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["broker_transport_options"]["visibility_timeout"] == 1800
    assert config["task_serializer"] == "json" and config["accept_content"] == ["json"]


def test_routing_and_limits_per_task(tmp_path: Path) -> None:
    app = create_celery_app(make_settings(tmp_path), "redis://127.0.0.1:6379/15")
    import backend.chat.tasks
    import backend.voice.tasks  # noqa: F401

    route = app.amqp.router.route
    assert route({}, "voice.stt")["queue"].name == "audio"
    assert route({}, "voice.tts")["queue"].name == "audio"
    assert route({}, "voice.cleanup")["queue"].name == "audio"
    assert route({}, "chat.process_text")["queue"].name == "text"
    for name, limits in TASK_LIMITS.items():
        registered = app.tasks[name]
        assert (registered.soft_time_limit, registered.time_limit) == (limits.soft_seconds, limits.hard_seconds)
        assert limits.expires_seconds > 0
    app.close()


def test_worker_commands_one_per_queue(tmp_path: Path) -> None:
    text, audio = embedded_worker_commands(make_settings(tmp_path))
    assert text[text.index("-Q") + 1] == "text" and audio[audio.index("-Q") + 1] == "audio"
    assert audio[audio.index("--prefetch-multiplier") + 1] == "1"
    assert "--beat" in audio and "--beat" not in text
    assert text[1:4] == ["-m", "celery", "-A"] and text[4] == "backend.worker"


def test_a_worker_on_the_embedded_redis_and_sqlite(tmp_path: Path, voice_dirs: dict[str, Path]) -> None:
    """The embedded default: REDIS_URL and DATABASE_URL empty, the worker finds the unix socket."""
    var = tmp_path / "var"
    settings = make_settings(tmp_path, REDIS_URL="", DATABASE_URL="", MEDIA_DIR=tmp_path / "media")
    run_alembic(settings.database_url_sync, ("upgrade", "head"))
    redis_url = ensure_embedded_redis(settings)
    assert redis_url.startswith("unix://")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        {"ENVIRONMENT": "test", "SECRET": TEST_SECRET, "SECRET_ADMIN_TOKEN": ADMIN_TOKEN, "VAR_DIR": str(var),
         "MEDIA_DIR": str(tmp_path / "media"), "REDIS_URL": "", "DATABASE_URL": "", "TTS_PROVIDER": "espeak"}
    )  # fmt: skip
    redis_pid = int((var / "redis" / "redis.pid").read_text())
    try:
        worker = WorkerProcess(env, tmp_path, queues="audio").start()
        producer = create_celery_app(settings, redis_url)
        try:
            result = producer.signature("voice.tts", args=({"text": "Проверка связи"}, "sid", "mp3")).apply_async()
            payload: dict[str, Any] = result.get(timeout=60)
        finally:
            producer.close()
            worker.stop()
    finally:
        os.kill(redis_pid, signal.SIGTERM)
    assert payload["audio_url"].startswith("/media/audio/")
    assert (tmp_path / "media" / payload["audio_url"].removeprefix("/media/")).is_file()
    with sqlite3.connect(var / "leadinc.db") as db:
        rows = db.execute("SELECT direction, status, format FROM audio_events").fetchall()
    assert rows == [("tts", "done", "mp3")]


async def test_eager_mode_runs_the_chain_in_process(
    settings: Settings, tmp_path: Path, app_factory: Any, standin: SpeechStandIn, voice_dirs: dict[str, Path]
) -> None:
    app = await app_factory(voice_settings(settings, tmp_path, voice_dirs, standin, CELERY_EAGER=True))
    async with client_for(app) as http:
        response = await upload(http, make_clip(tmp_path, "webm", 1.0), voice_reply="true", audio_format="mp3")
        assert response.status_code == 202, response.text
        status = await http.get(response.json()["status_url"])
    body = status.json()
    assert body["status"] == "done", body
    assert body["result"]["transcript"] == standin.transcript and body["result"]["audio_url"].endswith(".mp3")
    assert isinstance(uuid.UUID(body["task_id"]), uuid.UUID)


async def test_health_of_media_route_for_missing_file(voice_client: httpx.AsyncClient) -> None:
    response = await voice_client.get("/media/audio/2024-01-01/" + "a" * 32 + ".mp3")
    assert response.status_code == 404 and response.json()["error_code"] == "NOT_FOUND"
