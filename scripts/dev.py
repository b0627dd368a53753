"""The embedded-mode launcher behind `make run`.

Starts the embedded redis-server when REDIS_URL is empty, applies migrations, starts the two Celery
workers (unless CELERY_EAGER), then serves the app with uvicorn on 127.0.0.1:8000 (HOST/PORT
override). Stopping it (Ctrl-C / SIGINT or SIGTERM) stops the workers and the redis-server it
started (one it found already running is left alone), so a second start begins from a clean slate.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from contextlib import suppress

import uvicorn
from alembic import command
from alembic.config import Config

from backend.core.celery import embedded_worker_commands
from backend.core.config import ROOT_DIR, Settings, get_settings
from backend.core.redis import embedded_redis_running, resolve_redis_url, stop_embedded_redis
from backend.knowledge.indexer import ensure_index


def start_workers(
    commands: list[list[str]], env: dict[str, str] | None = None, output: int | None = None
) -> list[subprocess.Popen[bytes]]:
    """Start workers as subprocesses of the launcher, each in its own process group.

    ``env`` must carry the launcher's settings (at least ``REDIS_URL`` once the embedded server runs);
    ``output`` (e.g. ``subprocess.DEVNULL``) replaces the inherited stdout/stderr.
    """
    return [
        subprocess.Popen(argv, cwd=ROOT_DIR, env=env, start_new_session=True, stdout=output, stderr=output)
        for argv in commands
    ]


def stop_workers(processes: list[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """Warm shutdown (SIGTERM: running tasks finish), then SIGKILL of the whole group if needed."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _serve(settings: Settings, redis_url: str) -> None:
    os.environ["REDIS_URL"] = redis_url  # the app (and workers) reuse the same server
    print(f"==> redis: {redis_url}", flush=True)
    print(f"==> database: {settings.database_url_sync.split('@')[-1]}", flush=True)
    command.upgrade(Config(str(ROOT_DIR / "alembic.ini")), "head")
    ensure_index(settings)
    workers = [] if settings.CELERY_EAGER else start_workers(embedded_worker_commands(settings), dict(os.environ))
    try:
        print(f"==> celery workers: {'eager (in-process)' if settings.CELERY_EAGER else 'text + audio'}", flush=True)
        host = os.environ.get("HOST", "127.0.0.1")
        port = int(os.environ.get("PORT", "8000"))
        print(f"==> Leadinc Assistant on http://{host}:{port}  (API docs: http://{host}:{port}/docs)", flush=True)
        uvicorn.run("backend.main:app_factory", factory=True, host=host, port=port, proxy_headers=False)
    finally:
        stop_workers(workers)


def main() -> int:
    settings = get_settings()
    # SIGTERM (systemd, docker, `timeout`) must reach the `finally` blocks, or the workers and the
    # redis-server outlive us: uvicorn re-raises the signal after its shutdown, which would kill this
    # process first. From here on, both SIGINT and SIGTERM arrive as KeyboardInterrupt.
    signal.signal(signal.SIGTERM, _interrupt)
    # One metrics directory for the API and the workers, so /metrics shows the workers' task times too.
    metrics_dir = settings.VAR_DIR / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    own_redis = not settings.REDIS_URL and not embedded_redis_running(settings)
    try:
        _serve(settings, resolve_redis_url(settings))
    except KeyboardInterrupt:
        pass
    finally:
        if own_redis:
            try:
                stop_embedded_redis(settings)
                print("==> embedded redis stopped", flush=True)
            except Exception as exc:  # report it, but never hide the reason we are stopping
                print(f"==> could not stop the embedded redis: {exc}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
