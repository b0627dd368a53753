"""Guest-data retention on real PostgreSQL, run by a real Celery worker as the beat would: guest
conversations idle for RETENTION_GUEST_DAYS go with their messages and funnel events; a guest who
wrote recently, registered users' history and audio events (unlinked) stay."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from security.api_processes import environment
from sqlalchemy import create_engine, text
from voice.workers import WorkerProcess

from backend.core.celery import broker_url
from backend.core.config import ROOT_DIR, Settings

NOW = datetime.now(UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def seed(settings: Settings) -> dict[str, uuid.UUID]:
    """Sessions of every kind, with messages and funnel events at chosen ages."""
    ids = {name: uuid.uuid4() for name in ("old guest", "guest active lately", "new guest", "old user", "ex-user")}
    user_id = uuid.uuid4()
    engine = create_engine(settings.database_url_sync)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified, created_at)"
                " VALUES (:id, 'kept@example.com', 'x', true, false, false, :at)"
            ),
            {"id": user_id, "at": days_ago(90)},
        )
        sessions = {
            "old guest": (None, 40, [40, 35]),
            "guest active lately": (None, 40, [40, 1]),
            "new guest": (None, 2, [2]),
            "old user": (user_id, 400, [400, 300]),
            "ex-user": (None, 400, [400]),  # its account was deleted: user_id SET NULL, so it is guest data now
        }
        for name, (owner, age, message_ages) in sessions.items():
            conn.execute(
                text(
                    "INSERT INTO chat_sessions (id, user_id, is_guest, created_at, updated_at)"
                    " VALUES (:id, :user, :guest, :at, :at)"
                ),
                {"id": ids[name], "user": owner, "guest": owner is None, "at": days_ago(age)},
            )
            for n, message_age in enumerate(message_ages):
                conn.execute(
                    text(
                        "INSERT INTO messages (id, session_id, user_id, role, text, metadata, created_at)"
                        " VALUES (:id, :sid, :user, 'user', :text, '{}', :at)"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "sid": ids[name],
                        "user": owner,
                        "text": f"{name} {n}",
                        "at": days_ago(message_age),
                    },
                )
            conn.execute(
                text(
                    "INSERT INTO funnel_events (id, session_id, from_stage, to_stage, at) VALUES (:id, :sid, 0, 1, :at)"
                ),
                {"id": uuid.uuid4(), "sid": ids[name], "at": days_ago(age)},
            )
    engine.dispose()
    return ids


def remaining(settings: Settings) -> dict[str, set[uuid.UUID]]:
    engine = create_engine(settings.database_url_sync)
    with engine.connect() as conn:
        result = {
            table: {row[0] for row in conn.execute(text(f"SELECT {column} FROM {table}"))}  # noqa: S608
            for table, column in (("chat_sessions", "id"), ("messages", "session_id"), ("funnel_events", "session_id"))
        }
    engine.dispose()
    return result


@pytest.fixture
def text_worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = environment(settings, RETENTION_GUEST_DAYS=30, LOG_LEVEL="INFO")  # the worker says " ready." at INFO
    process = WorkerProcess(env, tmp_path, queues="text").start(timeout=120)
    yield process
    process.stop()


def test_retention_task_deletes_old_guest_data_only(settings: Settings, text_worker: WorkerProcess) -> None:
    ids = seed(settings)
    producer = Celery(broker=broker_url(settings.REDIS_URL), backend=broker_url(settings.REDIS_URL))
    producer.conf.task_routes = {"chat.*": {"queue": "text"}}
    try:
        report = producer.send_task("chat.retention").get(timeout=60)
    finally:
        producer.close()
    print(f"retention report: {report}")
    assert report == {"sessions": 2, "messages": 3, "funnel_events": 2}
    left = remaining(settings)
    gone = {ids["old guest"], ids["ex-user"]}
    kept = {ids["guest active lately"], ids["new guest"], ids["old user"]}
    for table, sessions in left.items():
        assert not gone & sessions, table
        assert kept <= sessions, table


def test_retention_is_on_the_beat_schedule(settings: Settings) -> None:
    code = "from backend.worker import app; import json; print(json.dumps(app.conf.beat_schedule, default=str))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment(settings), cwd=ROOT_DIR, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    schedule = json.loads(result.stdout.strip().splitlines()[-1])
    assert schedule["chat-retention"]["task"] == "chat.retention"
    assert float(schedule["chat-retention"]["schedule"]) == 24 * 3600
