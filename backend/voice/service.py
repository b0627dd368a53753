"""Voice rules for the API: accept an upload, start speech tasks, answer short speech at once, report
task status. No HTTP types here: the router translates requests into these calls.

Order matters: an upload is validated before anything is enqueued; the rows a task needs (the
chat session, the upload's ``audio_events`` row) are committed by the caller before the task is sent
(a task never runs before its rows exist); the task's ownership record is written before sending.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.sessions import SessionState, ensure_stored
from backend.core.celery import LeadincCelery
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.core.errors import AppError
from backend.core.logging import journal_error
from backend.voice import dispatch, repository, speech
from backend.voice.constants import (
    EVENT_DONE,
    EVENT_FAILED,
    EVENT_QUEUED,
    TTS_SYNC_MAX_CHARS,
    UPLOAD_BODY_OVERHEAD_BYTES,
)
from backend.voice.exceptions import AudioTooLarge, VoiceError, VoiceUnavailable
from backend.voice.media.base import UPLOADS_AREA, new_key
from backend.voice.media.factory import build_storage
from backend.voice.media.local import storage_failure
from backend.voice.schemas import TaskAccepted, TaskStatusOut
from backend.voice.stt.factory import stt_problem
from backend.voice.tracking import TaskTracker
from backend.voice.tts.base import TextToSpeech
from backend.voice.tts.factory import build_tts
from backend.voice.validation import extension_of, validate_audio

logger = logging.getLogger(__name__)

STATUS_URL = "/ai/tasks/{task_id}"


def upload_body_limit(settings: Settings) -> int:
    """The request-body cap ``/ai/voice_upload`` needs (``BodySizeLimitMiddleware`` override)."""
    return settings.AUDIO_MAX_BYTES + UPLOAD_BODY_OVERHEAD_BYTES


def accepted(task_id: str) -> TaskAccepted:
    return TaskAccepted(task_id=task_id, status_url=STATUS_URL.format(task_id=task_id))


class VoiceService:
    def __init__(
        self,
        *,
        settings: Settings,
        celery: LeadincCelery,
        db_factory: async_sessionmaker[AsyncSession],
        tracker: TaskTracker,
    ) -> None:
        self.settings = settings
        self.celery = celery
        self.storage = build_storage(settings)
        self._db_factory = db_factory
        self._tracker = tracker
        self._tts: TextToSpeech | None = None

    # --- uploads ---------------------------------------------------------------------------------
    async def prepare_upload(
        self,
        db: AsyncSession,
        filename: str | None,
        chunks: AsyncIterator[bytes],
        state: SessionState,
        *,
        voice_reply: bool,
        fmt: str,
    ) -> dispatch.TaskPlan:
        """Validate and store an upload, add its ``audio_events`` row (flushed, not committed) and
        plan stt → chat turn (→ tts). Commit, then :meth:`start` the plan."""
        problem = stt_problem(self.settings)
        if problem:
            raise VoiceUnavailable(problem, error_code="STT_NOT_CONFIGURED")
        extension = extension_of(filename)
        key = new_key(UPLOADS_AREA, extension)
        try:
            path = self.storage.staging_path(key)
        except VoiceError as exc:  # the media disk is full or read-only: our problem, not the visitor's
            journal_error("media_storage_failed", exc, extension=extension)
            raise VoiceUnavailable(exc.detail, error_code=exc.error_code) from exc
        try:
            await self._save(chunks, path)
            info = await anyio.to_thread.run_sync(
                lambda: validate_audio(
                    path,
                    extension,
                    max_bytes=self.settings.AUDIO_MAX_BYTES,
                    max_seconds=self.settings.AUDIO_MAX_SECONDS,
                )
            )
        except AppError as exc:
            self.storage.discard(path)
            logger.info("voice upload rejected", extra={"error_code": exc.error_code, "extension": extension})
            raise
        except VoiceError as exc:  # ffprobe/ffmpeg missing or stuck, or the disk failed: not the visitor's fault
            self.storage.discard(path)
            journal_error("audio_validation_failed", exc, extension=extension)
            raise VoiceUnavailable(exc.detail, error_code=exc.error_code) from exc
        try:
            await self.storage.publish_async(key, path)  # s3: uploaded now; nothing is queued without it
        except VoiceError as exc:
            journal_error("media_storage_failed", exc, extension=extension, storage=self.storage.kind)
            raise VoiceUnavailable(exc.detail, error_code=exc.error_code, headers={"Retry-After": "30"}) from exc
        event_id = uuid.uuid4()
        plan = dispatch.voice_chain(
            self.celery,
            event_id=event_id,
            sid=state.sid,
            chat_session_id=state.chat_session_id,
            voice_reply=voice_reply,
            fmt=fmt,
        )
        await ensure_stored(db, state)
        await repository.add_event_async(
            db,
            id=event_id,
            session_id=state.chat_session_id,
            direction="stt",
            status=EVENT_QUEUED,
            format=extension,
            duration_seconds=info.duration_seconds,
            size_bytes=info.size_bytes,
            file_path=key,
            task_id=plan.steps[0].id,
        )
        plan.event_id = event_id
        return plan

    async def _save(self, chunks: AsyncIterator[bytes], path: Path) -> int:
        """Stream the upload to disk, stopping with 413 as soon as it passes the size limit."""
        limit = self.settings.AUDIO_MAX_BYTES
        size = 0
        try:
            async with await anyio.open_file(path, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise AudioTooLarge(f"Файл больше допустимого: лимит {limit} байт.")
                    await out.write(chunk)
        except OSError as exc:
            raise storage_failure(exc) from exc
        return size

    # --- speech ------------------------------------------------------------------------------------
    async def plan_speech(self, db: AsyncSession, text: str, state: SessionState, fmt: str) -> dispatch.TaskPlan:
        """Plan ``voice.tts`` for ``text``; :meth:`start` it once the session row is committed.

        ``/ai/chat`` with ``voice: true`` uses this too and puts the returned task in ``reply.audio``.
        """
        await ensure_stored(db, state)  # the task's audio event refers to the session's row
        return dispatch.speech_task(
            self.celery, text=text, sid=state.sid, chat_session_id=state.chat_session_id, fmt=fmt
        )

    def can_speak_now(self, text: str) -> bool:
        return len(text) <= TTS_SYNC_MAX_CHARS

    async def speak_now(self, db: AsyncSession, text: str, state: SessionState, fmt: str) -> speech.StoredAudio:
        """Synthesize a short text in-request (``POST /ai/tts`` with ``sync: true``)."""
        try:
            if self._tts is None:
                self._tts = build_tts(self.settings)
            tts = self._tts
            stored = await anyio.to_thread.run_sync(lambda: speech.synthesize(tts, self.storage, text, fmt))
        except VoiceError as exc:
            journal_error("tts_failed", exc, provider=self.settings.TTS_PROVIDER, format=fmt)
            raise VoiceUnavailable(exc.detail, error_code=exc.error_code) from exc
        await ensure_stored(db, state)
        await repository.add_event_async(
            db,
            session_id=state.chat_session_id,
            direction="tts",
            status=EVENT_DONE,
            format=fmt,
            duration_seconds=stored.duration_seconds,
            size_bytes=stored.size_bytes,
            file_path=stored.relative,
        )
        return stored

    # --- sending ------------------------------------------------------------------------------------
    def start_after_commit(self, db: AsyncSession, plan: dispatch.TaskPlan, state: SessionState) -> TaskAccepted:
        """Send ``plan`` once ``db``'s unit of work has committed the rows its tasks read (a task never
        runs before its rows exist); a broker failure then still answers the request with 503."""

        async def send() -> None:
            await self.start(plan, state)

        after_commit(db, send)
        return accepted(plan.task_id)

    async def start(self, plan: dispatch.TaskPlan, state: SessionState) -> TaskAccepted:
        """Record who owns the task, then send it. Call after the rows it needs are committed.

        When the broker refuses, the already committed ``audio_events`` row is marked failed in a
        transaction of its own: that record must outlive the request that is answered 503."""
        await self._tracker.register(plan, state.sid, str(state.chat_session_id))
        try:
            await anyio.to_thread.run_sync(dispatch.send, plan)
        except Exception as exc:  # the broker is down: nothing was queued
            if plan.event_id is not None:
                async with self._db_factory() as db, db.begin():
                    await repository.update_event_async(
                        db, plan.event_id, status=EVENT_FAILED, error=f"enqueue failed: {type(exc).__name__}"
                    )
            raise VoiceUnavailable(
                "Очередь фоновых задач недоступна. Попробуйте через минуту.", error_code="BROKER_UNAVAILABLE"
            ) from exc
        return accepted(plan.task_id)

    # --- status -------------------------------------------------------------------------------------
    async def task_status(self, task_id: str, state: SessionState) -> TaskStatusOut:
        record = await self._tracker.owned(task_id, state.sid)
        return await self._tracker.status(record)
