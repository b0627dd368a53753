"""Lead delivery tasks on the ``text`` queue.

``leads.deliver(event_id)`` makes one delivery attempt (``service.deliver_event``) and, when the
receiver failed, retries itself with the countdown the service computed (exponential, capped; no
retry count limit: the service stops after 24 h). ``leads.sweep`` (beat, every
``LEAD_SWEEP_SECONDS``) re-queues pending events whose attempt is overdue, so a lost broker message
or a killed worker loses no lead.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from backend.core.celery import app_of, task
from backend.leads.service import DELIVER_EXPIRES_SECONDS, DELIVER_TASK, deliver_event, overdue_events


@task(DELIVER_TASK, max_retries=None, soft_time_limit=120, time_limit=150)
def deliver(self: Any, event_id: str) -> dict[str, Any]:
    app = app_of(self)
    settings = app.settings
    client: httpx.Client = app.resource(
        "lead_webhook_client", lambda: httpx.Client(timeout=settings.LEAD_WEBHOOK_TIMEOUT_SECONDS)
    )
    with app.db_session() as db:  # commits the attempt (and releases the row lock) before any retry
        outcome = deliver_event(db, settings, uuid.UUID(event_id), client)
    if outcome.status == "retry" and outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.as_dict()


@task("leads.sweep", soft_time_limit=60, time_limit=90)
def sweep(self: Any) -> dict[str, Any]:
    app = app_of(self)
    with app.db_session() as db:
        event_ids = overdue_events(db, app.settings)
    for event_id in event_ids:
        app.signature(DELIVER_TASK, args=(str(event_id),)).set(expires=DELIVER_EXPIRES_SECONDS).apply_async()
    return {"queued": len(event_ids)}
