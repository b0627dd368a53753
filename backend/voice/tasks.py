"""Voice tasks on the ``audio`` queue. They take ids and plain dicts, never ORM objects.

* ``voice.stt(event_id)`` transcribes an upload recorded as an ``audio_events`` row; returns
  ``{"text", "language", "provider", "duration_seconds", "event_id", "chat_session_id"}``, which
  ``chat.process_text(stt_result, sid)`` receives next in the chain.
* ``voice.tts(payload, sid, fmt, chat_session_id=None)`` speaks ``payload["reply"]["reply"]`` (a chat
  result) or ``payload["text"]``; returns ``{"transcript", "reply", "audio_url", "format",
  "duration_seconds"}``.
* ``voice.cleanup()`` applies the audio retention (beat, hourly).

Transient provider errors are retried with exponential backoff (``MAX_RETRIES``); anything else fails
at once. Every failure is recorded in the audio event row and, by the task class, in the error
journal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded

from backend.core.celery import LeadincCelery, app_of, task
from backend.voice import repository, speech
from backend.voice.constants import (
    EVENT_DONE,
    EVENT_FAILED,
    EVENT_PROCESSING,
    EVENT_RETRYING,
    MAX_RETRIES,
    OUTPUT_FORMATS,
    RETRY_BACKOFF_MAX_SECONDS,
    RETRY_BACKOFF_SECONDS,
    STT_LANGUAGE,
    TASK_LIMITS,
)
from backend.voice.exceptions import (
    AudioProcessingError,
    PermanentProviderError,
    TaskTimedOut,
    TransientProviderError,
    VoiceError,
)
from backend.voice.media.base import MediaStorage
from backend.voice.media.factory import build_storage
from backend.voice.stt.base import Transcript
from backend.voice.stt.factory import build_stt
from backend.voice.tts.factory import build_tts

T = TypeVar("T")


def _limits(name: str) -> dict[str, int]:
    limits = TASK_LIMITS[name]
    return {"soft_time_limit": limits.soft_seconds, "time_limit": limits.hard_seconds}


def backoff_seconds(retries: int) -> float:
    """1 s, 2 s, 4 s ... capped: the delay before retry number ``retries + 1``."""
    return float(min(RETRY_BACKOFF_MAX_SECONDS, RETRY_BACKOFF_SECONDS * 2**retries))


def _storage(app: LeadincCelery) -> MediaStorage:
    return app.resource("media", lambda: build_storage(app.settings))


def _record(app: LeadincCelery, event_id: uuid.UUID, **fields: Any) -> None:
    with app.db_session() as db:
        repository.update_event(db, event_id, **fields)


def _run_step(task_self: Any, event_id: uuid.UUID, work: Callable[[], T]) -> T:
    """Run one provider step: retry transient errors with backoff, fail clearly on anything else."""
    app = app_of(task_self)
    retries: int = task_self.request.retries
    try:
        return work()
    except TransientProviderError as exc:
        if retries < MAX_RETRIES:
            _record(app, event_id, status=EVENT_RETRYING, error=exc.detail[:2000])
            raise task_self.retry(exc=exc, countdown=backoff_seconds(retries), max_retries=MAX_RETRIES) from exc
        failure = TransientProviderError(f"{exc.detail} Попыток: {retries + 1}, сервис так и не ответил.")
        _record(app, event_id, status=EVENT_FAILED, error=failure.detail)
        raise failure from exc
    except SoftTimeLimitExceeded as exc:
        timed_out = TaskTimedOut("Обработка звука заняла слишком много времени и остановлена.")
        _record(app, event_id, status=EVENT_FAILED, error=timed_out.detail)
        raise timed_out from exc
    except VoiceError as exc:
        _record(app, event_id, status=EVENT_FAILED, error=exc.detail[:2000])
        raise
    except Exception as exc:
        _record(app, event_id, status=EVENT_FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


@task("voice.stt", **_limits("voice.stt"))
def stt(self: Any, event_id: str) -> dict[str, Any]:
    app = app_of(self)
    key = uuid.UUID(event_id)
    with app.db_session() as db:
        event = repository.get_event(db, key)
        if event is None:
            raise PermanentProviderError(f"Запись {event_id} не найдена.")
        event.status, event.task_id, event.error = EVENT_PROCESSING, self.request.id, None
        relative, session_id, duration = event.file_path, event.session_id, event.duration_seconds
    storage = _storage(app)

    def work() -> Transcript:
        if not relative:
            raise AudioProcessingError("Файл записи не найден (удалён или лежит на другом сервере).")
        provider = app.resource("stt", lambda: build_stt(app.settings))
        with storage.local_copy(relative) as path:  # s3: downloaded for the provider, removed after
            return speech.transcribe(provider, path)

    transcript = _run_step(self, key, work)
    _record(app, key, status=EVENT_DONE, error=None)
    return {
        "text": transcript.text,
        "language": transcript.language or STT_LANGUAGE,
        "provider": transcript.provider,
        "duration_seconds": duration,
        "event_id": event_id,
        "chat_session_id": str(session_id) if session_id else None,
    }


def reply_text(payload: dict[str, Any]) -> str:
    """The text to speak: a chat result's ``reply.reply``, else ``text``."""
    reply = payload.get("reply")
    text = reply.get("reply") if isinstance(reply, dict) else payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise PermanentProviderError("Нет текста для озвучивания.")
    return text


@task("voice.tts", **_limits("voice.tts"))
def tts(
    self: Any, payload: dict[str, Any], sid: str, fmt: str = "mp3", chat_session_id: str | None = None
) -> dict[str, Any]:
    app = app_of(self)
    with app.db_session() as db:  # one row per task, reused by retries and redeliveries
        event = repository.event_for_task(db, self.request.id, "tts") or repository.add_event(
            db,
            session_id=uuid.UUID(chat_session_id) if chat_session_id else None,
            direction="tts",
            format=fmt,
            task_id=self.request.id,
        )
        event.status, event.error = EVENT_PROCESSING, None
        key = event.id
    storage = _storage(app)

    def work() -> speech.StoredAudio:
        if fmt not in OUTPUT_FORMATS:
            raise PermanentProviderError(f"Неизвестный формат ответа: {fmt}. Подойдут: {', '.join(OUTPUT_FORMATS)}.")
        provider = app.resource("tts", lambda: build_tts(app.settings))
        return speech.synthesize(provider, storage, reply_text(payload), fmt)

    stored = _run_step(self, key, work)
    _record(
        app,
        key,
        status=EVENT_DONE,
        error=None,
        file_path=stored.relative,
        duration_seconds=stored.duration_seconds,
        size_bytes=stored.size_bytes,
    )
    return {
        "transcript": payload.get("transcript"),
        "reply": payload.get("reply"),
        "audio_url": stored.url,
        "format": fmt,
        "duration_seconds": stored.duration_seconds,
    }


@task("voice.cleanup", **_limits("voice.cleanup"))
def cleanup(self: Any) -> dict[str, int]:
    app = app_of(self)
    return asdict(_storage(app).cleanup(app.settings.AUDIO_RETENTION_DAYS))
