"""Real API processes for the concurrency tests: ``uvicorn --factory backend.main:app_factory`` on
free ports, configured through the environment from a test's ``Settings``, stopped by the test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deploy.support import spawn, stop, tail, wait_for_port
from faults.support import free_port

from backend.core.config import Settings

PASSED = (
    "ENVIRONMENT", "SECRET", "SECRET_ADMIN_TOKEN", "DATABASE_URL", "REDIS_URL", "VAR_DIR", "KNOWLEDGE_DIR",
    "CHROMA_DIR", "FAQ_CORPUS_DIR", "ANALYTICS_CORPUS_DIR", "TRUSTED_PROXIES",
)  # fmt: skip


def environment(settings: Settings, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RATE_", "CODE_"))}
    for name in PASSED:
        value = getattr(settings, name)
        env[name] = ",".join(value) if isinstance(value, list) else str(value)
    env["LOG_LEVEL"] = "WARNING"
    env.update({k: str(v) for k, v in extra.items()})
    return env


@contextmanager
def api_processes(settings: Settings, logs: Path, count: int = 2, **extra: Any) -> Iterator[list[str]]:
    """``count`` separate API processes sharing the test's PostgreSQL and Redis; yields their base URLs."""
    env = environment(settings, **extra)
    started: list[tuple[Any, int, Path]] = []
    try:
        for n in range(count):
            port, log = free_port(), logs / f"api-{n}.log"
            argv = [sys.executable, "-m", "uvicorn", "--factory", "backend.main:app_factory"]
            argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
            started.append((spawn(argv, log, env=env), port, log))
        for process, port, log in started:
            wait_for_port(port, process, log, timeout=120)
        yield [f"http://127.0.0.1:{port}" for _, port, _ in started]
    finally:
        for process, _, _ in started:
            stop(process)


__all__ = ["api_processes", "tail"]
