#!/usr/bin/env bash
# `make run`: venv + install + migrate + start on http://127.0.0.1:8000 (embedded default: SQLite,
# embedded redis-server, offline models). Any setting can be given as an environment variable.
source "$(dirname "$0")/_venv.sh"
ensure_venv "$ROOT/requirements.txt"
cd "$ROOT"
exec "$VENV/bin/python" -m scripts.dev "$@"
