"""Voice endpoints: HTTP in and out, nothing else. Rules live in ``service.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response

from backend.auth.cookies import carry_cookies
from backend.auth.dependencies import CurrentSession
from backend.core.dependencies import DbSession
from backend.core.errors import NotFound
from backend.core.openapi import error_responses
from backend.limits.dependencies import ChatRateLimited
from backend.voice.constants import ENCODINGS, UPLOAD_CHUNK_BYTES, OutputFormat
from backend.voice.dependencies import StorageDep, VoiceServiceDep
from backend.voice.media.local import LocalMediaStorage
from backend.voice.media.s3 import S3MediaStorage
from backend.voice.schemas import TaskAccepted, TaskStatusOut, TTSRequest

router = APIRouter(tags=["voice"])

_TEXTS = {
    404: "TASK_NOT_FOUND: no such task for this session",
    413: "Audio over AUDIO_MAX_BYTES",
    415: "Not an accepted audio type (mp3, ogg, m4a, webm, wav)",
    422: "Empty, corrupt, truncated or too long audio; bad fields",
    429: "Rate limited (Retry-After)",
    503: "Speech provider or task queue unavailable",
}


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
        yield chunk


@router.post(
    "/ai/voice_upload",
    status_code=202,
    response_model=TaskAccepted,
    dependencies=[ChatRateLimited],
    responses=error_responses(413, 415, 422, 429, 503, descriptions=_TEXTS),
)
async def voice_upload(
    state: CurrentSession,
    service: VoiceServiceDep,
    db: DbSession,
    file: Annotated[UploadFile, File(description="Voice message: mp3, ogg, m4a, webm or wav")],
    voice_reply: Annotated[bool, Form(description="Also speak the reply")] = False,
    audio_format: Annotated[OutputFormat, Form(description="Format of the spoken reply")] = "mp3",
) -> TaskAccepted:
    """Start STT → chat turn (→ TTS). Poll ``status_url`` for the transcript, reply and audio URL."""
    plan = await service.prepare_upload(
        db, file.filename, _chunks(file), state, voice_reply=voice_reply, fmt=audio_format
    )
    return service.start_after_commit(db, plan, state)  # the session and audio event rows exist first


@router.post(
    "/ai/tts",
    status_code=202,
    response_model=TaskAccepted,
    dependencies=[ChatRateLimited],
    responses={
        200: {
            "description": "The audio itself (sync: true and a short text), in the requested format",
            "content": {encoding.mime: {} for encoding in ENCODINGS.values()},
        },
        **error_responses(422, 429, 503, descriptions=_TEXTS),
    },
)
async def tts(
    body: TTSRequest, response: Response, state: CurrentSession, service: VoiceServiceDep, db: DbSession
) -> Response | TaskAccepted:
    """Speak a text: 202 with a task, or (``sync: true``, ≤300 characters) the audio file at once."""
    if body.sync and service.can_speak_now(body.text):
        stored = await service.speak_now(db, body.text, state, body.format)
        audio = Response(stored.data, media_type=ENCODINGS[body.format].mime, headers={"X-Audio-URL": stored.url})
        return carry_cookies(response, audio)
    plan = await service.plan_speech(db, body.text, state, body.format)
    return service.start_after_commit(db, plan, state)  # the session row exists before the task runs


@router.get(
    "/ai/tasks/{task_id}",
    response_model=TaskStatusOut,
    responses=error_responses(404, 429, descriptions=_TEXTS | {429: "SESSION_RATE_LIMITED (a new session)"}),
)
async def task_status(task_id: str, state: CurrentSession, service: VoiceServiceDep) -> TaskStatusOut:
    """Status of each step and the result so far; only for the session that created the task."""
    return await service.task_status(task_id, state)


@router.get("/media/audio/{day}/{name}", include_in_schema=False, response_model=None)
async def media_file(day: str, name: str, storage: StorageDep) -> FileResponse | RedirectResponse:
    """Produced audio: the file in embedded ``local`` mode (nginx serves ``/media`` in production), a
    redirect to a short-lived presigned URL in ``s3`` mode."""
    if isinstance(storage, S3MediaStorage):
        url = await storage.presigned_url(day, name)
        if url is None:
            raise NotFound("Файл не найден.")
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    path = storage.public_file(day, name) if isinstance(storage, LocalMediaStorage) else None
    if path is None:
        raise NotFound("Файл не найден.")
    fmt = path.suffix.lstrip(".")
    mime = ENCODINGS[fmt].mime if fmt in ENCODINGS else "application/octet-stream"
    return FileResponse(path, media_type=mime, headers={"Cache-Control": "private, max-age=86400"})
