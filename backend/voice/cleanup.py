"""Audio retention: delete stored audio older than ``AUDIO_RETENTION_DAYS``, in either backend.

Runs from the ``voice.cleanup`` beat task and from ``scripts/cleanup_audio.sh`` (a systemd timer):
``python -m backend.voice.cleanup [--dry-run]``. ``local``: regular files under ``MEDIA_DIR/audio``
and ``MEDIA_DIR/uploads`` by modification time (symlinks are never followed nor deleted). ``s3``:
objects under ``audio/`` and ``uploads/`` by their last-modified time (an S3 lifecycle rule on those
prefixes does the same inside the bucket; see docs/OPERATIONS.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from backend.core.config import get_settings
from backend.voice.media.base import CleanupReport
from backend.voice.media.factory import build_storage
from backend.voice.media.local import LocalMediaStorage


def cleanup_media(
    media_dir: Path, retention_days: int, *, now: float | None = None, dry_run: bool = False
) -> CleanupReport:
    """Delete audio files under ``media_dir`` whose modification time is more than ``retention_days`` ago."""
    return LocalMediaStorage(media_dir, "").cleanup(retention_days, now=now, dry_run=dry_run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete stored audio older than AUDIO_RETENTION_DAYS.")
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    args = parser.parse_args(argv)
    settings = get_settings()
    storage = build_storage(settings)
    report = storage.cleanup(settings.AUDIO_RETENTION_DAYS, dry_run=args.dry_run)
    where = {"media_dir": storage.describe()}
    print(json.dumps({**where, "storage": storage.kind, "dry_run": args.dry_run, **asdict(report)}))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
