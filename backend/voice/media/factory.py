"""The media storage the settings choose (``MEDIA_STORAGE``); one per process."""

from __future__ import annotations

from backend.core.config import Settings
from backend.voice.media.base import MediaStorage
from backend.voice.media.local import LocalMediaStorage
from backend.voice.media.s3 import S3MediaStorage


def build_storage(settings: Settings) -> MediaStorage:
    if settings.MEDIA_STORAGE == "s3":
        return S3MediaStorage(settings)
    return LocalMediaStorage(settings.media_dir, settings.MEDIA_URL_PREFIX)
