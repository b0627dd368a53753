#!/usr/bin/env bash
# `make test`: the whole check, runnable on a fresh machine.
#   1. system services: PostgreSQL and Redis reachable (installed and started with apt-get when
#      run as root on Debian/Ubuntu; otherwise a precise message says what is missing);
#   2. the virtualenv with the pinned requirements;
#   3. ruff (lint and format), mypy (strict on backend/), the import-layer contracts (import-linter) and pytest.
# Point at existing servers with TEST_POSTGRES_URL (an admin DSN allowed to CREATE DATABASE) and
# TEST_REDIS_URL (a Redis database the tests may flush).
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
source "$ROOT/scripts/_services.sh"

ensure_system_packages
ensure_venv "$ROOT/requirements-dev.txt"
ensure_postgres
ensure_redis

echo "==> ruff"
"$VENV/bin/ruff" check --no-cache backend tests scripts alembic
"$VENV/bin/ruff" format --check --no-cache backend tests scripts alembic
echo "==> mypy (strict on backend/)"
"$VENV/bin/mypy" backend
echo "==> import layers (import-linter contracts in pyproject.toml)"
"$VENV/bin/lint-imports" --no-cache
echo "==> pytest"
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
fi
exit "$status"
