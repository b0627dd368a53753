"""Real Celery worker processes for the tests: started, killed and restarted like in production."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from backend.core.celery import worker_argv
from backend.core.config import ROOT_DIR


class WorkerProcess:
    """One ``celery -A backend.worker worker`` (prefork, concurrency 1) in its own process group."""

    def __init__(self, env: dict[str, str], log_dir: Path, queues: str = "text,audio", *, beat: bool = False) -> None:
        self.env = env
        self.log_dir = log_dir
        self.queues = queues
        self.beat = beat  # embedded beat (its schedule file under log_dir), as the embedded launcher runs it
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.generation = 0

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        self.generation += 1
        self.log_path = self.log_dir / f"worker-{self.generation}.log"
        schedule = self.log_dir / f"beat-{self.generation}" if self.beat else None
        argv = worker_argv(self.queues, node=f"test{self.generation}-{os.getpid()}@%h", beat_schedule=schedule)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            if " ready." in self.log():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def pool_children(self) -> list[int]:
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): a crash, nothing is acked."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
