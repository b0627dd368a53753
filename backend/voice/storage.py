"""Where audio files live and how they are named.

Speech we produce: ``MEDIA_DIR/audio/<yyyy-mm-dd>/<random>.<ext>``, served under
``MEDIA_URL_PREFIX`` (the app in embedded mode, nginx in production). Uploads we receive:
``MEDIA_DIR/uploads/<yyyy-mm-dd>/<random>.<ext>``, never served. Names are 32 random URL-safe
characters, so a URL cannot be guessed. Database rows keep paths relative to ``MEDIA_DIR``.
"""

from __future__ import annotations

import errno
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from backend.core.config import Settings
from backend.voice.exceptions import MediaStorageFailed

AUDIO_DIR = "audio"
UPLOADS_DIR = "uploads"
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}\.(mp3|ogg|m4a|webm|wav)$")


def storage_failure(exc: OSError) -> MediaStorageFailed:
    """An OS error while writing under MEDIA_DIR, as a task-facing error an operator can act on."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return MediaStorageFailed("Не удалось сохранить аудио: на диске для медиафайлов закончилось место.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return MediaStorageFailed("Не удалось сохранить аудио: каталог медиафайлов недоступен для записи.")
    return MediaStorageFailed(f"Не удалось сохранить аудио: ошибка каталога медиафайлов ({exc.strerror or exc}).")


class AudioStorage:
    def __init__(self, media_dir: Path, url_prefix: str) -> None:
        self.root = media_dir
        self.url_prefix = url_prefix.rstrip("/")  # "/media" or a full URL such as a CDN's

    @classmethod
    def from_settings(cls, settings: Settings) -> AudioStorage:
        return cls(settings.media_dir, settings.MEDIA_URL_PREFIX)

    def _new(self, area: str, ext: str, now: datetime | None) -> Path:
        day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
        folder = self.root / area / day
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_failure(exc) from exc
        return folder / f"{secrets.token_urlsafe(24)}.{ext}"

    def new_audio_path(self, ext: str, now: datetime | None = None) -> Path:
        return self._new(AUDIO_DIR, ext, now)

    def new_upload_path(self, ext: str, now: datetime | None = None) -> Path:
        return self._new(UPLOADS_DIR, ext, now)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """A stored relative path back to a file inside the media directory (never outside it)."""
        root = self.root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"path outside the media directory: {relative!r}")
        return path

    def remove(self, relative: str) -> bool:
        """Delete the stored file ``relative`` names (an erased account's). Only a regular file inside
        the media directory goes; a symlink is never followed nor deleted. False when nothing was there."""
        try:
            path = self.resolve(relative)
        except ValueError:
            return False
        lexical = self.root / relative
        try:
            if lexical.is_symlink() or not path.is_file():
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def url_for(self, path: Path) -> str:
        return f"{self.url_prefix}/{self.relative(path)}"

    def public_file(self, day: str, name: str) -> Path | None:
        """The produced audio file a ``/media/audio/<day>/<name>`` URL names, if it exists."""
        if not DAY_PATTERN.match(day) or not NAME_PATTERN.match(name):
            return None
        path = self.root / AUDIO_DIR / day / name
        if path.is_symlink() or not path.is_file():
            return None
        # A symlinked day directory (or MEDIA_DIR/audio itself) must not lead out of the audio area.
        if not path.resolve().is_relative_to((self.root / AUDIO_DIR).resolve()):
            return None
        return path
