"""Failures against a real worker: transient provider errors are retried with backoff, permanent
ones fail at once; a failure is recorded in the task status, the audio event and the error journal;
a worker killed mid-task loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from voice.conftest import VISIBILITY_TIMEOUT
from voice.samples import make_clip
from voice.speech_standin import Reply, SpeechStandIn
from voice.support import upload, wait_task
from voice.workers import WorkerProcess

from backend.core.config import Settings
from backend.voice.models import AudioEvent


def _stt_event(settings: Settings) -> AudioEvent:
    engine = create_engine(settings.database_url_sync)
    with Session(engine) as db:
        event = db.scalars(select(AudioEvent).where(AudioEvent.direction == "stt")).one()
    engine.dispose()
    return event


def _journal(voice_dirs: dict[str, Path]) -> list[dict[str, object]]:
    path = voice_dirs["logs"] / "error_journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def _wait_for_stt_request(standin: SpeechStandIn, count: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while len(standin.transcriptions) < count:
        assert time.monotonic() < deadline, "the worker never called the STT service"
        await asyncio.sleep(0.05)


async def test_a_transient_error_is_retried(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, standin: SpeechStandIn, tmp_path: Path, settings: Settings
) -> None:
    standin.push(Reply(status=503))
    response = await upload(voice_client, make_clip(tmp_path, "mp3", 1.0))
    body = await wait_task(voice_client, response.json()["task_id"])
    assert body["status"] == "done", body
    assert len(standin.transcriptions) == 2  # the 503, then the retry
    event = _stt_event(settings)
    assert event.status == "done" and event.error is None


async def test_a_permanent_error_fails_at_once_and_is_recorded(
    voice_client: httpx.AsyncClient,
    worker: WorkerProcess,
    standin: SpeechStandIn,
    tmp_path: Path,
    settings: Settings,
    voice_dirs: dict[str, Path],
) -> None:
    standin.push(Reply(status=400))
    response = await upload(voice_client, make_clip(tmp_path, "mp3", 1.0), voice_reply="true")
    task_id = response.json()["task_id"]
    body = await wait_task(voice_client, task_id)
    assert body["status"] == "failed"
    assert [s["status"] for s in body["steps"]] == ["failed", "skipped", "skipped"]
    assert body["error"] == {"error_code": "PROVIDER_REJECTED", "detail": "Сервис распознавания речи ответил HTTP 400."}
    await asyncio.sleep(1.5)  # longer than the first retry delay: still only one call
    assert len(standin.transcriptions) == 1
    event = _stt_event(settings)
    assert event.status == "failed" and event.error == "Сервис распознавания речи ответил HTTP 400."
    failed = [e for e in _journal(voice_dirs) if e.get("kind") == "task_failed" and e.get("task") == "voice.stt"]
    assert failed and failed[-1]["error_type"] == "PermanentProviderError"


async def test_retries_give_up_with_a_clear_error(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, standin: SpeechStandIn, tmp_path: Path, settings: Settings
) -> None:
    standin.push(*[Reply(status=503)] * 4)  # first try + 3 retries (1 s, 2 s, 4 s apart)
    response = await upload(voice_client, make_clip(tmp_path, "mp3", 1.0))
    body = await wait_task(voice_client, response.json()["task_id"], within=30)
    assert body["status"] == "failed"
    assert body["error"]["error_code"] == "PROVIDER_UNAVAILABLE"
    assert "Попыток: 4" in body["error"]["detail"]
    assert len(standin.transcriptions) == 4
    assert _stt_event(settings).status == "failed"


async def test_a_killed_worker_loses_nothing(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, standin: SpeechStandIn, tmp_path: Path
) -> None:
    standin.push(Reply(delay=6))  # the worker is busy with this call when it dies
    response = await upload(voice_client, make_clip(tmp_path, "wav", 1.0))
    await _wait_for_stt_request(standin, 1)
    worker.kill()  # SIGKILL to the main process and its pool child: nothing acknowledged
    worker.start()
    body = await wait_task(voice_client, response.json()["task_id"], within=VISIBILITY_TIMEOUT + 30)
    assert body["status"] == "done", body
    assert body["result"]["transcript"] == standin.transcript
    assert len(standin.transcriptions) == 2  # redelivered once


async def test_a_killed_pool_process_is_requeued_at_once(
    voice_client: httpx.AsyncClient, worker: WorkerProcess, standin: SpeechStandIn, tmp_path: Path
) -> None:
    standin.push(Reply(delay=6))
    response = await upload(voice_client, make_clip(tmp_path, "wav", 1.0))
    await _wait_for_stt_request(standin, 1)
    started = time.monotonic()
    for child in worker.pool_children():
        os.kill(child, signal.SIGKILL)  # e.g. the OOM killer: task_reject_on_worker_lost requeues it
    await _wait_for_stt_request(standin, 2, within=30)
    # Redelivered before the visibility timeout could have fired: the requeue path, not the sweep.
    assert time.monotonic() - started < VISIBILITY_TIMEOUT
    body = await wait_task(voice_client, response.json()["task_id"], within=30)
    assert body["status"] == "done", body
    assert len(standin.transcriptions) == 2
