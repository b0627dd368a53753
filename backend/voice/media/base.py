"""Media storage: one interface, two backends (``local`` disk, ``s3`` bucket).

Objects are named by key, ``<area>/<yyyy-mm-dd>/<random>.<ext>``: ``audio/`` holds speech we produce
(served to visitors), ``uploads/`` what visitors send (never served). Names are 32 random URL-safe
characters, so a URL cannot be guessed. Database rows keep the key (``audio_events.file_path``).

Writing is two steps, so ffmpeg and ffprobe always work on a local file: :meth:`staging_path` gives
where to write the bytes of a key, :meth:`publish` makes them durable (``local``: they already are;
``s3``: uploaded, the local copy removed). Reading for speech recognition is :meth:`local_copy`.
"""

from __future__ import annotations

import re
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

AUDIO_AREA = "audio"
UPLOADS_AREA = "uploads"
AREAS = (AUDIO_AREA, UPLOADS_AREA)
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}\.(mp3|ogg|m4a|webm|wav)$")
MISSING_UPLOAD = "Файл записи не найден (удалён или лежит на другом сервере)."


def new_key(area: str, ext: str, now: datetime | None = None) -> str:
    day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    return f"{area}/{day}/{secrets.token_urlsafe(24)}.{ext}"


def public_key(day: str, name: str) -> str | None:
    """The key of produced audio that a ``/media/audio/<day>/<name>`` URL names, if well-formed."""
    if not DAY_PATTERN.match(day) or not NAME_PATTERN.match(name):
        return None
    return f"{AUDIO_AREA}/{day}/{name}"


def retention_cutoff(retention_days: int, now: float | None = None) -> float:
    """The epoch time before which stored audio is past ``retention_days`` (at least 1)."""
    if retention_days < 1:
        raise ValueError("AUDIO_RETENTION_DAYS must be at least 1")
    return (time.time() if now is None else now) - retention_days * 86400


@dataclass
class CleanupReport:
    deleted: int = 0
    deleted_bytes: int = 0
    kept: int = 0
    skipped_links: int = 0
    removed_dirs: int = 0
    errors: int = 0


class MediaStorage(Protocol):
    kind: Literal["local", "s3"]

    def describe(self) -> str:
        """Where the media lives, for logs and the cleanup report (never a secret)."""
        ...

    def staging_path(self, key: str) -> Path:
        """A local file to write ``key``'s bytes to before :meth:`publish`."""
        ...

    def publish(self, key: str, staged: Path) -> None: ...

    async def publish_async(self, key: str, staged: Path) -> None: ...

    def discard(self, staged: Path) -> None:
        """Forget a staged file that will not be published (rejected upload, failed encoding)."""
        ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A readable local file holding ``key`` for the duration of the block."""
        ...

    def url_for(self, key: str) -> str: ...

    def remove(self, key: str) -> bool:
        """Delete the stored object ``key`` (an erased account's); False when nothing was there."""
        ...

    def cleanup(self, retention_days: int, *, now: float | None = None, dry_run: bool = False) -> CleanupReport:
        """Delete media older than ``retention_days`` (by modification time)."""
        ...
