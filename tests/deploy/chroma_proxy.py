"""A real ``chroma run`` on loopback behind the rendered nginx site deploy/nginx/leadinc-chroma.conf,
which requires ``Authorization: Bearer <token>`` (used by the token test and the two-host test)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from deploy.support import NGINX, VENV, free_port, nginx_conf, nginx_test, render, spawn, stop, tail, wait_for_port


@dataclass
class GuardedChroma:
    server_port: int
    proxy_port: int
    prefix: Path
    token: str
    logs: Path

    def url(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.proxy_port}/api/v2/heartbeat"


@contextmanager
def guarded_chroma(tmp_path: Path, token: str) -> Iterator[GuardedChroma]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed")
    server_port, proxy_port = free_port(), free_port()
    tmp_path.mkdir(parents=True, exist_ok=True)
    token_map = tmp_path / "chroma-token.map"
    token_map.write_text(f'"Bearer {token}" 1;\n', encoding="utf-8")
    logs = tmp_path / "nginx-logs"
    logs.mkdir(parents=True, exist_ok=True)
    rendered = render(
        tmp_path / "rendered",
        CERT="/c",
        KEY="/k",
        VAR_DIR=str(tmp_path / "var"),
        CHROMA_PORT=str(proxy_port),
        CHROMA_TOKEN=token,
        CHROMA_SERVER_PORT=str(server_port),
        CHROMA_LISTEN="127.0.0.1",
        CHROMA_TOKEN_MAP=str(token_map),
        NGINX_LOG_DIR=str(logs),
    )
    unit = (rendered / "systemd" / "leadinc-chroma.service").read_text()
    assert f"--host 127.0.0.1 --port {server_port}" in unit  # Chroma itself stays on loopback
    prefix = tmp_path / "nginx"
    conf = nginx_conf(prefix, rendered / "nginx" / "leadinc-chroma.conf")
    checked = nginx_test(prefix, conf)
    assert checked.returncode == 0, checked.stderr
    chroma_log, nginx_log = tmp_path / "chroma.log", tmp_path / "nginx.log"
    chroma = spawn(
        [str(VENV / "bin" / "chroma"), "run", "--path", str(tmp_path / "chroma"),
         "--host", "127.0.0.1", "--port", str(server_port)],
        chroma_log,
    )  # fmt: skip
    nginx = spawn([NGINX, "-p", f"{prefix}/", "-c", str(conf)], nginx_log)
    try:
        wait_for_port(server_port, chroma, chroma_log, timeout=60)
        wait_for_port(proxy_port, nginx, nginx_log, timeout=20)
        deadline = time.monotonic() + 30
        while httpx.get(f"http://127.0.0.1:{server_port}/api/v2/heartbeat", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, tail(chroma_log)
            time.sleep(0.2)
        yield GuardedChroma(server_port, proxy_port, prefix, token, logs)
    finally:
        stop(nginx, signal.SIGQUIT, timeout=10)
        stop(chroma, signal.SIGTERM, timeout=20)
