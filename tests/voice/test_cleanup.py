"""Audio retention: only files older than AUDIO_RETENTION_DAYS go; symlinks are never followed;
the same rules from the script (systemd timer) and from the Celery task (beat)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from voice.workers import WorkerProcess

from backend.core.celery import broker_url
from backend.core.config import ROOT_DIR
from backend.voice.cleanup import cleanup_media

DAY = 86400


def _file(path: Path, age_days: float, size: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def _tree(media: Path, outside: Path) -> dict[str, Path]:
    files = {
        "old audio": _file(media / "audio" / "2024-01-01" / "old.mp3", 8),
        "old upload": _file(media / "uploads" / "2024-01-01" / "old.ogg", 30),
        "almost old": _file(media / "audio" / "2024-01-08" / "keep.mp3", 6.9),
        "new": _file(media / "audio" / "2024-01-09" / "new.ogg", 0),
        "unrelated old file beside the areas": _file(media / "README.old", 90),
        "outside target": _file(outside / "precious.mp3", 400),
        "outside dir file": _file(outside / "dir" / "also-precious.mp3", 400),
    }
    link = media / "audio" / "2024-01-02" / "link.mp3"
    link.parent.mkdir(parents=True)
    link.symlink_to(files["outside target"])
    os.utime(link, (time.time() - 400 * DAY,) * 2, follow_symlinks=False)
    (media / "audio" / "linked-dir").symlink_to(outside / "dir", target_is_directory=True)
    files["link"] = link
    return files


def test_retention_rules_and_symlinks(tmp_path: Path) -> None:
    media, outside = tmp_path / "media", tmp_path / "outside"
    files = _tree(media, outside)

    dry = cleanup_media(media, 7, dry_run=True)
    assert dry.deleted == 2 and files["old audio"].exists()

    report = cleanup_media(media, 7)
    assert report.deleted == 2 and report.deleted_bytes == 200
    assert report.kept == 2 and report.skipped_links == 2 and report.errors == 0
    assert not files["old audio"].exists() and not files["old upload"].exists()
    assert not (media / "audio" / "2024-01-01").exists()  # emptied day folder removed
    for kept in ("almost old", "new", "unrelated old file beside the areas", "outside target", "outside dir file"):
        assert files[kept].exists(), kept
    assert files["link"].is_symlink()  # neither followed nor removed


def test_a_symlinked_area_is_not_walked(tmp_path: Path) -> None:
    media, outside = tmp_path / "media", tmp_path / "outside"
    victim = _file(outside / "old.mp3", 100)
    media.mkdir()
    (media / "audio").symlink_to(outside, target_is_directory=True)
    report = cleanup_media(media, 7)
    assert victim.exists() and report.deleted == 0 and report.skipped_links == 1


def test_retention_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        cleanup_media(tmp_path, 0)


def test_the_script_for_the_systemd_timer(tmp_path: Path) -> None:
    media, outside = tmp_path / "media", tmp_path / "outside"
    files = _tree(media, outside)
    script = ROOT_DIR / "scripts" / "cleanup_audio.sh"
    assert os.access(script, os.X_OK)
    env = {**os.environ, "MEDIA_DIR": str(media), "AUDIO_RETENTION_DAYS": "7", "VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["deleted"] == 2 and report["media_dir"] == str(media)
    assert files["outside target"].exists() and files["new"].exists() and not files["old audio"].exists()


def test_the_beat_task_on_the_worker(worker: WorkerProcess, voice_dirs: dict[str, Path], redis_url: str) -> None:
    old = _file(voice_dirs["media"] / "audio" / "2020-01-01" / "stale.mp3", 365)
    fresh = _file(voice_dirs["media"] / "audio" / "2020-01-02" / "fresh.mp3", 1)
    producer = Celery(broker=broker_url(redis_url), backend=broker_url(redis_url))
    producer.conf.task_routes = {"voice.*": {"queue": "audio"}}
    try:
        report = producer.send_task("voice.cleanup").get(timeout=30)
    finally:
        producer.close()
    assert report["deleted"] >= 1 and not old.exists() and fresh.exists()


def test_the_beat_schedule(worker_env: dict[str, str]) -> None:
    code = "from backend.worker import app; import json; print(json.dumps(app.conf.beat_schedule, default=str))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=worker_env, cwd=ROOT_DIR, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    schedule = json.loads(result.stdout.strip().splitlines()[-1])
    assert schedule["voice-cleanup"]["task"] == "voice.cleanup"
