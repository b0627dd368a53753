"""Typed dependencies of the voice endpoints.

The voice service (and the Celery producer inside it) is built once per app from the app's own
settings, on first use, and kept on ``app.state.voice``. ``/ai/chat`` with ``voice: true`` uses the
same ``VoiceServiceDep`` to start speech for its reply.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.core.celery import create_celery_app
from backend.core.redis import resolve_redis_url
from backend.voice.service import VoiceService
from backend.voice.storage import AudioStorage
from backend.voice.tracking import TaskTracker


def get_voice_service(request: Request) -> VoiceService:  # sync: FastAPI runs it in a worker thread
    state = request.app.state
    service: VoiceService | None = getattr(state, "voice", None)
    if service is None:
        settings = state.settings
        celery = create_celery_app(settings, resolve_redis_url(settings))
        service = VoiceService(
            settings=settings,
            celery=celery,
            db_factory=state.db_factory,
            tracker=TaskTracker(state.redis, celery),
        )
        state.voice = service
    return service


def get_storage(request: Request) -> AudioStorage:
    return AudioStorage.from_settings(request.app.state.settings)


VoiceServiceDep = Annotated[VoiceService, Depends(get_voice_service)]
StorageDep = Annotated[AudioStorage, Depends(get_storage)]
