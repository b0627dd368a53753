"""The real product as the browser sees it: ``python -m scripts.dev`` in a subprocess (embedded Redis,
SQLite, migrations, knowledge index, Celery workers, uvicorn) on a free 127.0.0.1 port, in its own
VAR_DIR so it never touches the developer's data or the shared test services."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import httpx
import redis

from backend.core.config import ROOT_DIR

FIXTURE_CORPORA = {
    "FAQ_CORPUS_DIR": ROOT_DIR / "tests" / "knowledge" / "fixtures" / "faq",
    "ANALYTICS_CORPUS_DIR": ROOT_DIR / "tests" / "knowledge" / "fixtures" / "analytics",
}
WHITELISTED = "boss@example.com"  # has analytics access without the funnel's trial
TRANSCRIPT = "Сколько стоит подключение?"  # what the STT stand-in "hears" in every upload
GENEROUS_LIMITS = {
    "RATE_BURST": "100/10 seconds",
    "RATE_BURST_IP": "1000/10 seconds",
    "RATE_DAILY_GUEST": "1000/day",
    "RATE_DAILY_USER": "1000/day",
    "RATE_DAILY_IP": "10000/day",
}

# Settings a developer's environment must not leak into the server under test.
_FOREIGN_PREFIXES = ("OPENAI_", "STT_", "TTS_", "ELEVENLABS_", "RATE_", "SMTP_", "CHROMA_", "CSRF_", "CODE_")
_FOREIGN_NAMES = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECURE_COOKIES",
    "MEDIA_DIR",
    "DEV_OUTBOX_DIR",
    "KNOWLEDGE_DIR",
    "FAQ_CORPUS_DIR",
    "ANALYTICS_CORPUS_DIR",
    "SUBSCRIPTION_WHITELIST",
    "CELERY_EAGER",
    "ERROR_JOURNAL_PATH",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """One embedded-mode server; ``start()`` waits until ``/health`` answers 200."""

    def __init__(self, name: str, root: Path, **settings: object) -> None:
        self.name = name
        self.root = root
        self.var_dir = root / "var"
        self.port = free_port()
        self.log_path = root / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES) and k not in _FOREIGN_NAMES}
        env.update(
            {
                "ENVIRONMENT": "test",
                "SECRET": "browser-test-secret-0123456789abcdef",
                "SECRET_ADMIN_TOKEN": "browser-test-admin-0123456789abcdef",
                "VAR_DIR": str(self.var_dir),
                "MEDIA_DIR": str(root / "media"),
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({key: str(value) for key, value in settings.items()})
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.var_dir / "outbox"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 240.0) -> LiveServer:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scripts.dev"],
                cwd=ROOT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited early:\n{self.log()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.name} server not healthy after {timeout} s:\n{self.log()[-4000:]}")

    def _descendants(self) -> list[int]:
        """Worker and redis processes started by the launcher (they run in their own groups)."""
        if self.process is None:
            return []
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            path = Path(f"/proc/{pid}/task/{pid}/children")
            children = [int(c) for c in path.read_text().split()] if path.exists() else []
            found.extend(children)
            queue.extend(children)
        return found

    def stop(self) -> None:
        if self.process is None:
            return
        children = self._descendants()
        # SIGINT like Ctrl+C: uvicorn re-raises it after shutdown as KeyboardInterrupt, so the launcher's
        # `finally` stops its workers (after SIGTERM the re-raised signal kills it before that).
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for pid in children:  # anything the launcher failed to stop
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._stop_embedded_redis()

    def _stop_embedded_redis(self) -> None:
        """The embedded redis-server is a daemon meant to outlive the launcher; this one must not."""
        client = redis.Redis(unix_socket_path=str(self.var_dir / "redis" / "redis.sock"), socket_timeout=2)
        with suppress(redis.RedisError, OSError):
            client.shutdown(nosave=True)
        client.close()
