"""The Celery worker entry point. One worker per queue:

    celery -A backend.worker worker -Q text  -n text@%h  --concurrency 2 --prefetch-multiplier 4
    celery -A backend.worker worker -Q audio -n audio@%h --concurrency 1 --prefetch-multiplier 1
    celery -A backend.worker beat --schedule var/celerybeat-schedule     # audio cleanup, guest-data retention, lead sweep

Settings come from the environment (and ``backend/.env.backend``), exactly as for the API. With an
empty ``REDIS_URL`` the embedded redis-server is started (or reused) on its unix socket.
``backend.core.celery.embedded_worker_commands`` gives the argv lists the embedded launcher uses.
"""

from __future__ import annotations

import time
from typing import Any

from celery.signals import setup_logging, task_postrun, task_prerun

import backend.models  # noqa: F401 - every table, so foreign keys resolve in tasks
from backend.core.celery import create_celery_app
from backend.core.config import get_settings
from backend.core.logging import configure_logging
from backend.core.redis import resolve_redis_url
from backend.core.sentry import init_sentry
from backend.metrics.instruments import record_task
from backend.voice.constants import CLEANUP_INTERVAL_SECONDS, TASK_LIMITS

RETENTION_INTERVAL_SECONDS = 24 * 3600

settings = get_settings()
init_sentry(settings, "worker")  # Celery integration: a task that finally fails is reported
app = create_celery_app(settings, resolve_redis_url(settings))
app.conf.beat_schedule = {
    "voice-cleanup": {
        "task": "voice.cleanup",
        "schedule": CLEANUP_INTERVAL_SECONDS,
        "options": {"expires": TASK_LIMITS["voice.cleanup"].expires_seconds},
    },
    "chat-retention": {  # guest conversations past RETENTION_GUEST_DAYS (152-FZ / GDPR)
        "task": "chat.retention",
        "schedule": RETENTION_INTERVAL_SECONDS,
        "options": {"expires": RETENTION_INTERVAL_SECONDS // 2},
    },
    "chat-handoff-timeouts": {  # visitors waiting for a manager longer than HANDOFF_TIMEOUT_MINUTES
        "task": "chat.handoff_timeouts",
        "schedule": 60,
        "options": {"expires": 60},
    },
    "leads-sweep": {  # pending lead deliveries whose message was lost or whose worker died
        "task": "leads.sweep",
        "schedule": settings.LEAD_SWEEP_SECONDS,
        "options": {"expires": settings.LEAD_SWEEP_SECONDS},
    },
}
celery_app = app


def _configure_logging(**_: Any) -> None:
    """JSON logs and the error journal in workers too (instead of Celery's own logging setup)."""
    configure_logging(settings)


setup_logging.connect(_configure_logging, weak=False)


_started: dict[str, float] = {}


def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None) if task_id else None
    delivery = (task.request.delivery_info or {}) if task is not None else {}
    queue = delivery.get("routing_key") or "eager"
    seconds = time.perf_counter() - started if started is not None else None
    record_task(str(queue), getattr(task, "name", "unknown"), state or "UNKNOWN", seconds)


task_prerun.connect(_task_started, weak=False)
task_postrun.connect(_task_finished, weak=False)
