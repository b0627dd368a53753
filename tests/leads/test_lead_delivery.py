"""Lead delivery end to end: accounts created through the real API write an outbox row in their unit
of work; a real Celery worker (``text`` queue, and its embedded beat where the sweep matters) POSTs
it to a real local HTTP receiver (``http.server`` in a thread) as signed JSON.

Proved here: the receiver failing three times still gets the lead exactly once (one 2xx), signed,
with one Idempotency-Key, after growing delays; a worker SIGKILLed mid-POST loses nothing (the row
lock dies with its connection, the sweep re-queues the row, the lead arrives with the same key); a
registration whose commit fails leaves no row and sends nothing; an empty LEAD_WEBHOOK_URL keeps
the row and sends nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults.support import free_port
from smtp_standin import SMTPStandIn, body_of
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from voice.workers import WorkerProcess

from backend.core.celery import create_celery_app
from backend.core.config import Settings
from helpers import ADMIN_TOKEN, TEST_SECRET, client_for, derive_settings, make_settings

LEAD_SECRET = "lead-webhook-secret-for-tests-0123456789"
PASSWORD = "password 12345"


@dataclass
class Received:
    key: str
    signature: str
    body: bytes
    at: float
    status: int | None = None  # what the receiver answered (None: still stalled, or the sender went away)

    @property
    def document(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class Receiver:
    """A CRM stand-in: records every POST; per event (Idempotency-Key) it can stall the first
    ``stall_first`` requests (until ``release`` is set) and answer 503 to the next ``fail_first``
    ones, then 200."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/leads"
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.fail_first = 0
        self.stall_first = 0
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                item = Received(
                    key=self.headers.get("Idempotency-Key", ""),
                    signature=self.headers.get("X-Leadinc-Signature", ""),
                    body=body,
                    at=time.monotonic(),
                )
                with receiver.lock:
                    earlier = sum(1 for r in receiver.requests if r.key == item.key)
                    receiver.requests.append(item)
                if earlier < receiver.stall_first:  # answered 200 once released (if the sender still listens)
                    receiver.release.wait(120)
                status = 503 if receiver.stall_first <= earlier < receiver.stall_first + receiver.fail_first else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self.wfile.flush()
                    item.status = status
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> Receiver:
        with self.lock:
            self.requests.clear()
        self.fail_first = self.stall_first = 0
        self.release.clear()
        return self

    def of(self, contact: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.document["data"]["contact"] == contact]


def valid_signature(item: Received) -> bool:
    expected = "sha256=" + hmac.new(LEAD_SECRET.encode(), item.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, item.signature)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def crm(receiver: Receiver) -> Receiver:
    return receiver.reset()


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://"))
    yield engine
    engine.dispose()


def lead_settings(receiver: Receiver | None, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "LEAD_WEBHOOK_URL": receiver.url if receiver else "",
        "LEAD_WEBHOOK_SECRET": LEAD_SECRET if receiver else "",
        "LEAD_RETRY_BASE_SECONDS": 0.5,
        "LEAD_RETRY_MAX_SECONDS": 2,
        "LEAD_SWEEP_SECONDS": 1,
    }
    values.update(overrides)
    return values


@pytest.fixture
def workers(
    settings: Settings, knowledge_dirs: dict[str, Any], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts real ``text`` workers with the lead settings given; stops them after the test."""
    started: list[WorkerProcess] = []

    def start(values: dict[str, Any], *, beat: bool = False, name: str = "worker") -> WorkerProcess:
        logs = tmp_path / name
        logs.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SMTP_", "ADMIN_", "LEAD_"))}
        env.update({k: str(v) for k, v in knowledge_dirs.items()})
        env.update(
            {
                "ENVIRONMENT": "test",
                "SECRET": TEST_SECRET,
                "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
                "DATABASE_URL": str(settings.DATABASE_URL),
                "REDIS_URL": str(settings.REDIS_URL),
                "VAR_DIR": str(logs / "var"),
                "ERROR_JOURNAL_PATH": str(logs / "error_journal.jsonl"),
                "CELERY_VISIBILITY_TIMEOUT": "3600",  # a killed worker's message comes back only through the sweep
                "PYTHONUNBUFFERED": "1",
                **{k: str(v) for k, v in values.items()},
            }
        )
        worker = WorkerProcess(env, logs, queues="text", beat=beat).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


async def eventually(check: Callable[[], bool], within: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def outbox(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT * FROM lead_outbox ORDER BY created_at")).mappings().all()
    return [dict(row) for row in rows]


async def client_with(app_factory: Any, settings: Settings, tmp_path: Path, **values: Any) -> httpx.AsyncClient:
    return client_for(await app_factory(derive_settings(settings, tmp_path, **values)))


async def say(client: httpx.AsyncClient, message: str) -> dict[str, Any]:
    response = await client.post("/ai/chat", json={"message": message})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_funnel_lead_arrives_once_signed_after_three_failed_attempts(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    smtp: SMTPStandIn,
    crm: Receiver,
    workers: Callable[..., WorkerProcess],
    db: Engine,
) -> None:
    crm.fail_first = 3
    workers(lead_settings(crm))
    values = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "SMTP_TLS": False, **lead_settings(crm)}
    async with await client_with(app_factory, settings, tmp_path, **values) as client:
        await say(client, "хочу зарегистрироваться")
        await say(client, "crm-lead@example.com")
        (code_mail,) = smtp.wait_for("crm-lead@example.com")
        code = re.search(r"\b(\d{6})\b", body_of(code_mail))
        assert code is not None
        assert (await say(client, code.group(1)))["action"] == "ask_city"
        done = await say(client, "Казань, натяжные потолки")
        assert done["action"] == "registered", done

    def answered() -> bool:
        return any(r.status == 200 for r in crm.of("crm-lead@example.com"))

    await eventually(answered, what="the lead to be accepted")
    await asyncio.sleep(3)  # anything sent after the 2xx would have arrived by now
    sent = crm.of("crm-lead@example.com")
    assert [r.status for r in sent] == [503, 503, 503, 200]
    assert all(valid_signature(r) for r in sent)
    assert len({r.key for r in sent}) == 1 and len({r.body for r in sent}) == 1  # one event, same bytes
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(sent)]
    assert all(gap >= expected - 0.1 for gap, expected in zip(gaps, [0.5, 1.0, 2.0], strict=True)), gaps

    (row,) = outbox(db)
    assert str(row["id"]) == sent[0].key
    assert (row["state"], row["attempts"], row["last_error"]) == ("delivered", 4, None)
    assert row["delivered_at"] is not None
    document = sent[0].document
    assert document["event_id"] == sent[0].key and document["kind"] == "registration"
    data = document["data"]
    assert data["contact"] == "crm-lead@example.com" and data["city"] == "Казань"
    assert data["niche"] == done["fields"]["niche"] and data["source"] == "chat"
    assert data["session_id"] and data["trial_ends_at"]


async def test_worker_killed_mid_delivery_loses_nothing(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    crm: Receiver,
    workers: Callable[..., WorkerProcess],
    db: Engine,
) -> None:
    crm.stall_first = 1  # the first POST of the event never gets an answer
    first = workers(lead_settings(crm, LEAD_WEBHOOK_TIMEOUT_SECONDS=120), name="first")
    async with await client_with(app_factory, settings, tmp_path, **lead_settings(crm)) as client:
        created = await client.post("/auth/register", json={"email": "killed@example.com", "password": PASSWORD})
        assert created.status_code == 201, created.text
    await eventually(lambda: len(crm.of("killed@example.com")) == 1, what="the first POST")
    first.kill()  # SIGKILL mid-POST: the row lock and the unacknowledged message die with it
    await eventually(lambda: outbox(db)[0]["attempts"] == 0, within=10, what="the attempt to roll back")
    assert outbox(db)[0]["state"] == "pending"

    workers(lead_settings(crm), beat=True, name="second")  # the sweep finds the overdue row
    await eventually(lambda: any(r.status == 200 for r in crm.of("killed@example.com")), what="redelivery")
    await asyncio.sleep(3)
    sent = crm.of("killed@example.com")
    assert [r.status for r in sent] == [None, 200]
    assert all(valid_signature(r) for r in sent) and len({r.key for r in sent}) == 1
    (row,) = outbox(db)
    assert (str(row["id"]), row["state"], row["attempts"]) == (sent[0].key, "delivered", 1)


async def test_two_workers_never_send_one_event_at_once(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    crm: Receiver,
    workers: Callable[..., WorkerProcess],
    db: Engine,
) -> None:
    crm.stall_first = 1  # the first POST hangs until released, with its row locked
    workers(lead_settings(crm), name="a")
    workers(lead_settings(crm), name="b")
    async with await client_with(app_factory, settings, tmp_path, **lead_settings(crm)) as client:
        created = await client.post("/auth/register", json={"email": "twice@example.com", "password": PASSWORD})
        assert created.status_code == 201, created.text
    await eventually(lambda: len(crm.of("twice@example.com")) == 1, what="the first POST")
    (row,) = outbox(db)
    producer = create_celery_app(make_settings(tmp_path, **lead_settings(crm)), str(settings.REDIS_URL))
    duplicate = producer.signature("leads.deliver", args=(str(row["id"]),)).apply_async()
    outcome = await asyncio.to_thread(duplicate.get, timeout=60)  # the idle worker takes it meanwhile
    assert outcome["status"] == "skipped" and "another worker" in outcome["detail"], outcome
    crm.release.set()
    await eventually(lambda: outbox(db)[0]["state"] == "delivered", what="the delivery")
    await asyncio.sleep(2)
    sent = crm.of("twice@example.com")
    assert [r.status for r in sent] == [200] and valid_signature(sent[0])
    assert outbox(db)[0]["attempts"] == 1


async def test_rolled_back_registration_writes_no_lead_and_sends_nothing(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    crm: Receiver,
    workers: Callable[..., WorkerProcess],
    db: Engine,
) -> None:
    # The account's commit itself fails (a deferred check, run at COMMIT, after the outbox row was flushed).
    with db.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'doomed account' USING ERRCODE = 'check_violation'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_doomed AFTER INSERT ON users DEFERRABLE INITIALLY DEFERRED "
                "FOR EACH ROW WHEN (NEW.email = 'doomed@example.com') EXECUTE FUNCTION refuse_doomed()"
            )
        )
    try:
        workers(lead_settings(crm), beat=True)
        async with await client_with(app_factory, settings, tmp_path, **lead_settings(crm)) as client:
            doomed = await client.post("/auth/register", json={"email": "doomed@example.com", "password": PASSWORD})
            assert doomed.status_code >= 400, doomed.text
            kept = await client.post("/auth/register", json={"email": "kept@example.com", "password": PASSWORD})
            assert kept.status_code == 201, kept.text
        await eventually(lambda: any(r.status == 200 for r in crm.of("kept@example.com")), what="the kept lead")
        await asyncio.sleep(3)  # the sweep ran a few times meanwhile
    finally:
        with db.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_doomed ON users"))
            conn.execute(text("DROP FUNCTION refuse_doomed()"))
    assert crm.of("doomed@example.com") == []
    assert [row["payload"]["contact"] for row in outbox(db)] == ["kept@example.com"]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users WHERE email = 'doomed@example.com'")).scalar() == 0


async def test_empty_webhook_url_keeps_the_lead_and_sends_nothing(
    settings: Settings,
    tmp_path: Path,
    app_factory: Any,
    workers: Callable[..., WorkerProcess],
    db: Engine,
) -> None:
    off = lead_settings(None)
    workers(off, beat=True)
    async with await client_with(app_factory, settings, tmp_path, **off) as client:
        created = await client.post("/auth/register", json={"email": "quiet@example.com", "password": PASSWORD})
        assert created.status_code == 201, created.text
    (row,) = outbox(db)
    assert row["payload"]["contact"] == "quiet@example.com" and row["payload"]["source"] == "password"

    # Even asked directly (and swept every second), the worker sends nothing while the URL is empty.
    producer = create_celery_app(make_settings(tmp_path, **off), str(settings.REDIS_URL))
    result = producer.signature("leads.deliver", args=(str(row["id"]),)).apply_async()
    outcome = await asyncio.to_thread(result.get, timeout=60)
    assert outcome["status"] == "skipped" and outcome["detail"] == "LEAD_WEBHOOK_URL is not set"
    swept = await asyncio.to_thread(producer.signature("leads.sweep").apply_async().get, timeout=60)
    assert swept == {"queued": 0}
    await asyncio.sleep(2)
    (row,) = outbox(db)
    assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 0, None)


async def test_delivery_gives_up_24_hours_after_the_lead(
    settings: Settings, tmp_path: Path, crm: Receiver, workers: Callable[..., WorkerProcess], db: Engine
) -> None:
    crm.fail_first = 100  # the CRM stays down
    worker = workers(lead_settings(crm))
    with db.begin() as conn:
        event_id = conn.execute(
            text(
                "INSERT INTO lead_outbox (id, kind, payload, created_at, state, attempts, next_attempt_at) "
                "VALUES (gen_random_uuid(), 'registration', '{\"contact\": \"old@example.com\"}', "
                "now() - interval '24 hours', 'pending', 0, now()) RETURNING id"
            )
        ).scalar_one()
    producer = create_celery_app(make_settings(tmp_path, **lead_settings(crm)), str(settings.REDIS_URL))
    outcome = await asyncio.to_thread(producer.signature("leads.deliver", args=(str(event_id),)).apply_async().get, 60)
    assert outcome == {"status": "failed", "retry_in": None, "detail": "HTTP 503"}
    assert [r.status for r in crm.of("old@example.com")] == [503]
    (row,) = outbox(db)
    assert (row["state"], row["attempts"], row["last_error"]) == ("failed", 1, "HTTP 503")
    journal = (worker.log_dir / "error_journal.jsonl").read_text()
    assert "lead_delivery_failed" in journal and str(event_id) in journal
