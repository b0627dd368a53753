"""The media disk is full: a spoken reply cannot be stored. The chat reply is still delivered and
stored, the speech task fails with a clear error in its status (not a hang, not a retry loop), and
an upload that cannot be stored is refused in the error shape. Runs a real Celery worker on a
private Redis (so no other test's worker can take the task) and a 64 KiB tmpfs filled to the brim."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from faults.support import RedisServer
from voice.samples import make_clip
from voice.support import upload, wait_task
from voice.workers import WorkerProcess

from backend.core.config import Settings
from helpers import ADMIN_TOKEN, TEST_SECRET, client_for, derive_settings, stored_messages

NO_SPACE = "Не удалось сохранить аудио: на диске для медиафайлов закончилось место."


def mount_tmpfs(mountpoint: Path, options: str) -> None:
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs ({mounted.stderr.strip()}); mount needs root")


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 64 KiB with no byte and no inode left (chmod would not stop root; a full disk does)."""
    mountpoint = tmp_path / "media"
    mount_tmpfs(mountpoint, "size=64k,nr_inodes=64")
    try:
        with suppress(OSError), (mountpoint / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        for n in range(64):  # and the inodes, so not even an empty directory can be made
            try:
                (mountpoint / f"d{n}").mkdir()
            except OSError:
                break
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, timeout=30)


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "media-ro"
    mount_tmpfs(mountpoint, "size=64k,ro")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, timeout=30)


async def test_full_media_disk_fails_the_speech_task_clearly(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    full_disk: Path,
    private_redis: RedisServer,
    knowledge_dirs: dict[str, Any],
) -> None:
    values: dict[str, Any] = {"REDIS_URL": private_redis.url, "MEDIA_DIR": full_disk, "TTS_PROVIDER": "espeak"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STT_", "TTS_", "ELEVENLABS_"))}
    env |= {k: str(v) for k, v in (values | knowledge_dirs).items()}
    env |= {
        "DATABASE_URL": settings.DATABASE_URL,
        "ENVIRONMENT": "test",
        "SECRET": TEST_SECRET,
        "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
        "VAR_DIR": str(tmp_path / "worker-var"),
        "PYTHONUNBUFFERED": "1",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = WorkerProcess(env, logs).start()
    try:
        # The upload is refused while storing it, before any transcription: no STT server is needed.
        app = await app_factory(derive_settings(settings, tmp_path, STT_BASE_URL="http://127.0.0.1:9/v1", **values))
        async with client_for(app) as http:
            chat = await http.post("/ai/chat", json={"message": "Как вернуть деньги?", "voice": True})
            assert chat.status_code == 200, chat.text
            reply = chat.json()
            assert reply["scenario"] == "FAQ" and reply["reply"] and reply["audio"]["task_id"]
            spoken = await wait_task(http, reply["audio"]["task_id"], within=40)

            tts = await http.post("/ai/tts", json={"text": "Проверка записи на полный диск.", "format": "ogg"})
            assert tts.status_code == 202, tts.text
            direct = await wait_task(http, tts.json()["task_id"], within=40)

            clip = make_clip(tmp_path, "mp3", 1.0)
            refused = await upload(http, clip)
    finally:
        worker.stop()
    for status in (spoken, direct):
        assert status["status"] == "failed", status
        assert status["error"] == {"error_code": "MEDIA_STORAGE_FAILED", "detail": NO_SPACE}, status
    assert refused.status_code == 503, refused.text
    assert refused.json() == {"error_code": "MEDIA_STORAGE_FAILED", "detail": NO_SPACE}
    assert [text for _, text, _ in stored_messages(settings, "user")] == ["Как вернуть деньги?"]
    assert len(stored_messages(settings, "assistant")) == 1


async def test_read_only_media_disk_is_a_clear_503(
    settings: Settings, tmp_path: Path, app_factory: Any, read_only_disk: Path
) -> None:
    read_only = "Не удалось сохранить аудио: каталог медиафайлов недоступен для записи."
    app = await app_factory(
        derive_settings(settings, tmp_path, MEDIA_DIR=read_only_disk, STT_BASE_URL="http://127.0.0.1:9/v1")
    )
    async with client_for(app) as http:
        chat = await http.post("/ai/chat", json={"message": "Как вернуть деньги?"})
        spoken = await http.post("/ai/tts", json={"text": "Короткий ответ.", "format": "mp3", "sync": True})
        refused = await upload(http, make_clip(tmp_path, "wav", 1.0))
    assert chat.status_code == 200 and chat.json()["sources"]
    assert spoken.status_code == 503 and spoken.json() == {"error_code": "MEDIA_STORAGE_FAILED", "detail": read_only}
    assert refused.status_code == 503 and refused.json() == {"error_code": "MEDIA_STORAGE_FAILED", "detail": read_only}
    assert [text for _, text, _ in stored_messages(settings, "user")] == ["Как вернуть деньги?"]
