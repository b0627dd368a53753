"""Slow clients against a real uvicorn (the server the systemd unit runs): a crowd of connections
that trickle their headers or stall mid-body must not stop the server from answering everyone else.

uvicorn 0.x has no header/body read timeout (``--timeout-keep-alive`` only applies between
requests), so the held connections stay open until the client goes; closing them is nginx's job
(``client_header_timeout`` / ``client_body_timeout``, see RELIABILITY.md). Oversized bodies (413)
are covered in tests/core/test_errors.py and through nginx in tests/deploy/test_end_to_end.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults.support import free_port, port_open, wait_for

from backend.core.config import ROOT_DIR, Settings
from helpers import ADMIN_TOKEN, TEST_SECRET

SLOW_HEADERS = 60
STALLED_BODIES = 20


@pytest.fixture
def server(settings: Settings, tmp_path: Path, knowledge_dirs: dict[str, Any]) -> Iterator[int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHROMA_HOST"))}
    env |= {k: str(v) for k, v in knowledge_dirs.items()}
    env |= {
        "ENVIRONMENT": "test",
        "SECRET": TEST_SECRET,
        "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "true",
        "RATE_BURST_IP": "1000/10 seconds",
    }
    argv = [sys.executable, "-m", "uvicorn", "--factory", "backend.main:app_factory", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--timeout-keep-alive", "2", "--no-access-log"]
    with (tmp_path / "uvicorn.log").open("wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: port_open(port) or process.poll() is not None, 60, "uvicorn to listen")
        assert process.poll() is None, (tmp_path / "uvicorn.log").read_text()
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_slow(port: int, prefix: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(prefix)
    return sock


def test_slow_and_stalled_clients_do_not_block_others(server: int) -> None:
    held: list[socket.socket] = []
    try:
        for n in range(SLOW_HEADERS):  # slowloris: a request line and one header, then silence
            held.append(open_slow(server, f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{n}: a".encode()))
        body = b'{"message": "' + b"x" * 40
        for _ in range(STALLED_BODIES):  # headers done, body promised but never finished
            head = (
                b"POST /ai/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 5000\r\n\r\n"
            )
            held.append(open_slow(server, head + body))

        started = time.monotonic()
        with httpx.Client(base_url=f"http://127.0.0.1:{server}", timeout=10) as http:
            health = http.get("/health")
            chat = http.post("/ai/chat", json={"message": "Как вернуть деньги?"})
            for sock in held[:10]:  # keep trickling: still no effect on the others
                sock.sendall(b"b")
            again = http.get("/health")
        elapsed = time.monotonic() - started
        assert health.status_code == 200 and again.status_code == 200
        assert chat.status_code == 200 and chat.json()["sources"]
        assert elapsed < 8, f"normal requests took {elapsed:.1f} s next to {len(held)} slow clients"
    finally:
        for sock in held:
            with suppress(OSError):
                sock.close()
    with httpx.Client(base_url=f"http://127.0.0.1:{server}", timeout=10) as http:
        assert http.get("/health").status_code == 200  # and the server is fine after they left


def test_a_stalled_body_finished_late_is_still_served_once(server: int) -> None:
    payload = '{"message": "Сколько стоит подключение?"}'.encode()
    sock = open_slow(
        server,
        f"POST /ai/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        + payload[:10],
    )
    try:
        time.sleep(3)  # longer than --timeout-keep-alive: the read is not cut by that timer
        sock.sendall(payload[10:])
        sock.settimeout(15)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
