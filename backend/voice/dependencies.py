"""Typed dependencies of the voice endpoints.

The voice service (and the Celery producer inside it) is built once per process by the composition
root (``backend.runtime``) and read from ``app.state.runtime``. ``/ai/chat`` with ``voice: true`` uses
the same ``VoiceServiceDep`` to start speech for its reply.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.voice.media.base import MediaStorage
from backend.voice.service import VoiceService


async def get_voice_service(request: Request) -> VoiceService:
    service: VoiceService = request.app.state.runtime.voice
    return service


async def get_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.runtime.voice.storage
    return storage


VoiceServiceDep = Annotated[VoiceService, Depends(get_voice_service)]
StorageDep = Annotated[MediaStorage, Depends(get_storage)]
