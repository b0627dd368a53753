"""Audio retention: delete stored audio older than ``AUDIO_RETENTION_DAYS``.

Runs from the ``voice.cleanup`` beat task and from ``scripts/cleanup_audio.sh`` (a systemd timer):
``python -m backend.voice.cleanup [--dry-run]``. Only regular files under ``MEDIA_DIR/audio`` and
``MEDIA_DIR/uploads`` are considered; a symlink is never followed nor deleted, so nothing outside
the media directory can be touched. Emptied day folders are removed.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from backend.core.config import get_settings
from backend.voice.storage import AUDIO_DIR, UPLOADS_DIR


@dataclass
class CleanupReport:
    deleted: int = 0
    deleted_bytes: int = 0
    kept: int = 0
    skipped_links: int = 0
    removed_dirs: int = 0
    errors: int = 0


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


def cleanup_media(
    media_dir: Path, retention_days: int, *, now: float | None = None, dry_run: bool = False
) -> CleanupReport:
    """Delete audio files whose modification time is more than ``retention_days`` ago."""
    if retention_days < 1:
        raise ValueError("AUDIO_RETENTION_DAYS must be at least 1")
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    report = CleanupReport()
    for area in (AUDIO_DIR, UPLOADS_DIR):
        _sweep(media_dir / area, cutoff, report, dry_run)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete stored audio older than AUDIO_RETENTION_DAYS.")
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    args = parser.parse_args(argv)
    settings = get_settings()
    report = cleanup_media(settings.media_dir, settings.AUDIO_RETENTION_DAYS, dry_run=args.dry_run)
    print(json.dumps({"media_dir": str(settings.media_dir), "dry_run": args.dry_run, **asdict(report)}))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
