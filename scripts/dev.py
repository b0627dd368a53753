"""The embedded-mode launcher behind `make run`.

Starts the embedded redis-server when REDIS_URL is empty, applies migrations, then serves the app
with uvicorn on 127.0.0.1:8000 (HOST/PORT override).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

import uvicorn
from alembic import command
from alembic.config import Config

from backend.core.celery import embedded_worker_commands, start_workers, stop_workers
from backend.core.config import ROOT_DIR, get_settings
from backend.core.redis import resolve_redis_url
from backend.knowledge.indexer import ensure_index


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    settings = get_settings()
    # One metrics directory for the API and the workers, so /metrics shows the workers' task times too.
    metrics_dir = settings.VAR_DIR / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    redis_url = resolve_redis_url(settings)
    os.environ["REDIS_URL"] = redis_url  # the app (and workers) reuse the same server
    print(f"==> redis: {redis_url}", flush=True)
    print(f"==> database: {settings.database_url_sync.split('@')[-1]}", flush=True)
    command.upgrade(Config(str(ROOT_DIR / "alembic.ini")), "head")
    ensure_index(settings)
    workers = [] if settings.CELERY_EAGER else start_workers(embedded_worker_commands(settings), dict(os.environ))
    print(f"==> celery workers: {'eager (in-process)' if settings.CELERY_EAGER else 'text + audio'}", flush=True)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    print(f"==> Leadinc Assistant on http://{host}:{port}  (API docs: http://{host}:{port}/docs)", flush=True)
    # SIGTERM (systemd, docker, `timeout`) must reach the `finally` below, or the workers outlive us:
    # uvicorn re-raises the signal after its shutdown, which would kill this process first.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        uvicorn.run("backend.main:app_factory", factory=True, host=host, port=port, proxy_headers=False)
    finally:
        stop_workers(workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
