"""`scripts/run.sh` (``python -m scripts.dev``) cleans up after itself: stopping it with SIGTERM or
SIGINT stops the embedded redis-server it started, and a second start in the same VAR_DIR works."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from browser.live_server import FIXTURE_CORPORA, LiveServer


def _redis_pid(var_dir: Path) -> int:
    pidfile = var_dir / "redis" / "redis.pid"
    assert pidfile.exists(), "the launcher did not start the embedded redis-server"
    return int(pidfile.read_text().strip())


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split()[2] != "Z"


def _stop_with(server: LiveServer, signum: signal.Signals) -> int:
    assert server.process is not None
    server.process.send_signal(signum)
    return server.process.wait(timeout=60)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_stopping_the_launcher_stops_its_redis_and_it_starts_again(tmp_path: Path, signum: signal.Signals) -> None:
    servers = [LiveServer(f"launch{n}", tmp_path, CELERY_EAGER="true", **FIXTURE_CORPORA) for n in range(2)]
    try:
        for server in servers:  # the second start reuses the first one's VAR_DIR (data, index, socket path)
            server.start()
            pid = _redis_pid(server.var_dir)
            assert _running(pid)
            _stop_with(server, signum)
            deadline = time.monotonic() + 10
            while _running(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _running(pid), (
                f"the embedded redis-server (pid {pid}) outlived the launcher:\n{server.log()[-2000:]}"
            )
            assert not (server.var_dir / "redis" / "redis.sock").exists()
            assert "embedded redis stopped" in server.log()
    finally:
        for server in servers:
            server.stop()
