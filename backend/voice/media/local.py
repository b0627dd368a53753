"""``local`` media storage: files under ``MEDIA_DIR`` (the default; nginx serves ``MEDIA_DIR/audio``).

Cleanup considers only regular files under ``MEDIA_DIR/audio`` and ``MEDIA_DIR/uploads``; a symlink is
never followed nor deleted, so nothing outside the media directory can be touched. Emptied day
folders are removed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from backend.voice.exceptions import AudioProcessingError, MediaStorageFailed
from backend.voice.media.base import AREAS, AUDIO_AREA, MISSING_UPLOAD, CleanupReport, public_key, retention_cutoff


def storage_failure(exc: OSError) -> MediaStorageFailed:
    """An OS error while writing under MEDIA_DIR, as a task-facing error an operator can act on."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return MediaStorageFailed("Не удалось сохранить аудио: на диске для медиафайлов закончилось место.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return MediaStorageFailed("Не удалось сохранить аудио: каталог медиафайлов недоступен для записи.")
    return MediaStorageFailed(f"Не удалось сохранить аудио: ошибка каталога медиафайлов ({exc.strerror or exc}).")


class LocalMediaStorage:
    kind: Literal["local", "s3"] = "local"

    def __init__(self, media_dir: Path, url_prefix: str) -> None:
        self.root = media_dir
        self.url_prefix = url_prefix.rstrip("/")  # "/media" or a full URL such as a CDN's

    def describe(self) -> str:
        return str(self.root)

    def resolve(self, key: str) -> Path:
        """A stored key back to a file inside the media directory (never outside it)."""
        root = self.root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"path outside the media directory: {key!r}")
        return path

    def staging_path(self, key: str) -> Path:
        path = self.resolve(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_failure(exc) from exc
        return path

    def publish(self, key: str, staged: Path) -> None:
        """Nothing to do: the file was written in place."""

    async def publish_async(self, key: str, staged: Path) -> None:
        """Nothing to do: the file was written in place."""

    def discard(self, staged: Path) -> None:
        staged.unlink(missing_ok=True)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.resolve(key)
        if not path.is_file():
            raise AudioProcessingError(MISSING_UPLOAD)
        yield path

    def url_for(self, key: str) -> str:
        return f"{self.url_prefix}/{key}"

    def remove(self, key: str) -> bool:
        """Only a regular file inside the media directory goes; a symlink is never followed nor deleted."""
        try:
            path = self.resolve(key)
        except ValueError:
            return False
        try:
            if (self.root / key).is_symlink() or not path.is_file():
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def public_file(self, day: str, name: str) -> Path | None:
        """The produced audio file a ``/media/audio/<day>/<name>`` URL names, if it exists."""
        key = public_key(day, name)
        if key is None:
            return None
        path = self.root / key
        if path.is_symlink() or not path.is_file():
            return None
        # A symlinked day directory (or MEDIA_DIR/audio itself) must not lead out of the audio area.
        if not path.resolve().is_relative_to((self.root / AUDIO_AREA).resolve()):
            return None
        return path

    def cleanup(self, retention_days: int, *, now: float | None = None, dry_run: bool = False) -> CleanupReport:
        cutoff = retention_cutoff(retention_days, now)
        report = CleanupReport()
        for area in AREAS:
            _sweep(self.root / area, cutoff, report, dry_run)
        return report


def _sweep(area: Path, cutoff: float, report: CleanupReport, dry_run: bool) -> None:
    try:
        if not stat.S_ISDIR(os.lstat(area).st_mode):  # a symlinked area is not ours to walk
            report.skipped_links += 1
            return
    except FileNotFoundError:
        return
    for folder, dirnames, filenames in os.walk(area, topdown=False, followlinks=False):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
                report.skipped_links += 1
                continue
            if info.st_mtime >= cutoff:
                report.kept += 1
                continue
            try:
                if not dry_run:
                    os.unlink(path)
                report.deleted += 1
                report.deleted_bytes += info.st_size
            except OSError:
                report.errors += 1
        if folder != str(area) and not dry_run:
            try:
                os.rmdir(folder)  # only succeeds when empty
                report.removed_dirs += 1
            except OSError:
                pass
