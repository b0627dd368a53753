#!/usr/bin/env bash
# Delete stored audio older than AUDIO_RETENTION_DAYS (default 7) under MEDIA_DIR/audio and
# MEDIA_DIR/uploads, and remove emptied day folders. Meant for a systemd timer (the Celery beat task
# `voice.cleanup` does the same hourly). Settings come from the environment and backend/.env.backend.
# Symlinks are never followed nor deleted. Prints one JSON line; exits 1 if a file could not be removed.
#   scripts/cleanup_audio.sh            # delete
#   scripts/cleanup_audio.sh --dry-run  # only count
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
exec "$PYTHON" -m backend.voice.cleanup "$@"
