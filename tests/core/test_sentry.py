"""SENTRY_DSN reports an unhandled API error (a 500) to Sentry: a real API process (uvicorn) sends
the envelope to a local HTTP server speaking Sentry's envelope endpoint. The error is real: a
corrupt session state in Redis. Without SENTRY_DSN nothing is sent; what is sent holds no cookie."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from faults.support import free_port
from security.api_processes import api_processes

from backend.core.config import Settings


class SentryStandIn:
    """Accepts ``POST /api/<project>/envelope/`` and keeps the decoded envelope items."""

    def __init__(self) -> None:
        self.envelopes: list[list[tuple[dict[str, Any], Any]]] = []
        self.raw: list[bytes] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.rstrip("/").endswith("/envelope"):
                    with owner.lock:
                        owner.raw.append(body)
                        owner.envelopes.append(parse_envelope(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/42"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [payload for items in self.envelopes for header, payload in items if header.get("type") == "event"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_envelope(body: bytes) -> list[tuple[dict[str, Any], Any]]:
    """Sentry envelope: a header line, then (item header line, payload) pairs."""
    lines = body.split(b"\n")
    items: list[tuple[dict[str, Any], Any]] = []
    position = 1
    while position < len(lines) and lines[position].strip():
        header = json.loads(lines[position])
        payload = lines[position + 1] if position + 1 < len(lines) else b""
        try:
            items.append((header, json.loads(payload)))
        except ValueError:
            items.append((header, payload))
        position += 2
    return items


@pytest.fixture
def sentry() -> Iterator[SentryStandIn]:
    server = SentryStandIn()
    yield server
    server.stop()


def corrupt_session(settings: Settings) -> str:
    sid = "corrupt-session-for-the-sentry-test"
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.set(f"leadinc:session:{sid}", "{not json", ex=600)
    finally:
        client.close()
    return sid


def internal_error(base_url: str, sid: str) -> httpx.Response:
    response = httpx.get(f"{base_url}/auth/session", cookies={"sessionid": sid}, timeout=30)
    assert response.status_code == 500, response.text
    assert response.json()["error_code"] == "INTERNAL_ERROR"
    return response


def wait_for_exception(sentry: SentryStandIn, within: float = 20.0) -> dict[str, Any]:
    """The first event carrying an exception (the error journal's log line may come as its own event)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if events := [event for event in sentry.events() if event.get("exception")]:
            return events[0]
        time.sleep(0.1)
    raise AssertionError(f"no event reached the Sentry stand-in: {sentry.raw!r}")


def test_a_500_in_the_api_reaches_sentry(settings: Settings, tmp_path: Path, sentry: SentryStandIn) -> None:
    sid = corrupt_session(settings)
    with api_processes(settings, tmp_path, count=1, SENTRY_DSN=sentry.dsn) as (base_url,):
        internal_error(base_url, sid)
        event = wait_for_exception(sentry)
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "JSONDecodeError"
    assert event["tags"]["component"] == "api"
    assert event["environment"] == "test"
    raw = b"".join(sentry.raw)
    at = raw.find(sid.encode())
    assert at < 0, raw[max(0, at - 400) : at + 100]  # the cookie is not sent (send_default_pii off)
    assert b'"vars"' not in raw  # nor the local variables of the frames


def test_without_a_dsn_nothing_is_sent(settings: Settings, tmp_path: Path, sentry: SentryStandIn) -> None:
    sid = corrupt_session(settings)
    with api_processes(settings, tmp_path, count=1) as (base_url,):
        internal_error(base_url, sid)
        time.sleep(2)
    assert sentry.raw == []


def test_a_failing_task_in_the_worker_reaches_sentry(settings: Settings, tmp_path: Path, sentry: SentryStandIn) -> None:
    from security.api_processes import environment
    from voice.workers import WorkerProcess

    from backend.core.celery import create_celery_app

    env = environment(settings, SENTRY_DSN=sentry.dsn, ADMIN_EMAIL="ops@example.com", LOG_LEVEL="INFO")
    worker = WorkerProcess(env, tmp_path, queues="text").start()
    try:
        producer = create_celery_app(settings, settings.REDIS_URL)
        producer.signature("auth.registration_notice", args=("not-a-user-id",)).apply_async()
        event = wait_for_exception(sentry, within=90)  # a loaded machine: the worker may take a while
    finally:
        worker.stop()
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["tags"]["component"] == "worker"
