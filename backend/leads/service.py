"""Lead delivery rules.

Writing (the API, bound to the caller's unit of work, flush only): ``LeadOutbox.record_registration``
adds an outbox row in the transaction that creates the account, so a registration that rolls back
leaves no lead; the delivery task is queued only after that commit.

Delivering (the ``text`` worker, ``deliver_event`` in the task's sync unit of work):

* the row is locked (``SELECT … FOR UPDATE SKIP LOCKED``) for the whole attempt, POST included: two
  workers never send the same event at once, and a worker killed mid-POST drops its connection, so
  PostgreSQL releases the lock and the row is still pending for the next attempt;
* the body is JSON, signed ``X-Leadinc-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with
  ``LEAD_WEBHOOK_SECRET``, and carries ``Idempotency-Key: <event id>``: a receiver that answered 2xx
  just before a crash may get the event again and deduplicates by that key;
* only a 2xx marks the row delivered; any other answer or a network error schedules the next attempt
  after ``LEAD_RETRY_BASE_SECONDS`` doubled per failed attempt (capped at ``LEAD_RETRY_MAX_SECONDS``)
  until 24 h after the lead, then the row is marked failed and journaled.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.core.celery import shared_producer
from backend.core.config import Settings
from backend.core.database import after_commit
from backend.core.logging import journal_error
from backend.core.orm import utcnow
from backend.core.redis import resolve_redis_url
from backend.leads import repository
from backend.leads.models import DeliveryState, LeadEvent, LeadKind

logger = logging.getLogger(__name__)

DELIVER_TASK = "leads.deliver"
DELIVERY_WINDOW = timedelta(hours=24)  # retries stop this long after the lead was written
DELIVER_EXPIRES_SECONDS = 24 * 3600  # a delivery message still queued a day later is dropped
SWEEP_BATCH = 200  # pending rows re-queued per sweep at most
SIGNATURE_HEADER = "X-Leadinc-Signature"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Leadinc-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(settings: Settings, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (1, 2, 3 …): exponential, capped."""
    return float(min(settings.LEAD_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.LEAD_RETRY_MAX_SECONDS))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def queue_delivery(settings: Settings, event_id: uuid.UUID) -> None:
    """Send ``leads.deliver`` for one event (blocking: call off the event loop)."""
    producer = shared_producer(settings, resolve_redis_url(settings))
    producer.signature(DELIVER_TASK, args=(str(event_id),)).set(expires=DELIVER_EXPIRES_SECONDS).apply_async()


class LeadOutbox:
    """Writes lead events in the caller's unit of work (flush only)."""

    def __init__(self, db: AsyncSession, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    async def record_registration(
        self,
        *,
        user_id: uuid.UUID,
        contact: str,
        city: str | None,
        niche: str | None,
        trial_ends_at: datetime | None,
        session_id: uuid.UUID | None,
        source: str,
        visit: dict[str, str | None] | None,
    ) -> LeadEvent:
        payload: dict[str, Any] = {
            "user_id": str(user_id),
            "contact": contact,
            "city": city,
            "niche": niche,
            "trial_ends_at": _iso(trial_ends_at),
            "session_id": str(session_id) if session_id is not None else None,
            "source": source,  # "chat" (the funnel) or "password" (POST /auth/register)
            "visit": visit,  # the session's landing page, referrer and UTM tags (null without a session)
        }
        event = await repository.add_event(self._db, LeadKind.REGISTRATION, payload)
        self._queue_after_commit(event.id)
        return event

    async def record_handoff(
        self,
        *,
        session_id: uuid.UUID,
        user_id: uuid.UUID | None,
        reason: str,
        text: str,
        visit: dict[str, str | None] | None,
    ) -> LeadEvent:
        """A visitor asked for a person (or the assistant fell back twice): the team is to step in."""
        payload: dict[str, Any] = {
            "session_id": str(session_id),
            "user_id": str(user_id) if user_id is not None else None,
            "reason": reason,  # "asked" (the visitor asked for a person) or "fallbacks" (two in a row)
            "text": text[:500],  # the visitor's last message
            "visit": visit,
        }
        event = await repository.add_event(self._db, LeadKind.HANDOFF, payload)
        self._queue_after_commit(event.id)
        return event

    def _queue_after_commit(self, event_id: uuid.UUID) -> None:
        if not self._settings.LEAD_WEBHOOK_URL:
            return  # delivery is off: the row is kept (the console and a later sweep can use it)
        settings = self._settings

        async def send() -> None:
            try:
                await asyncio.to_thread(queue_delivery, settings, event_id)
            except Exception as exc:  # the broker is down: the row is stored, the sweep re-queues it
                journal_error("lead_delivery_not_queued", exc, event_id=str(event_id))

        after_commit(self._db, send)


def body_of(event: LeadEvent) -> bytes:
    """The webhook body: the same bytes on every attempt of an event."""
    document = {
        "event_id": str(event.id),
        "kind": event.kind,
        "created_at": _iso(event.created_at),
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | retry | failed | skipped
    retry_in: float | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "retry_in": self.retry_in, "detail": self.detail}


def deliver_event(db: Session, settings: Settings, event_id: uuid.UUID, client: httpx.Client) -> Outcome:
    """One delivery attempt of one event, inside the caller's transaction (which holds the row lock
    until it commits). The caller commits, then retries after ``Outcome.retry_in`` when asked."""
    if not settings.LEAD_WEBHOOK_URL:
        return Outcome("skipped", detail="LEAD_WEBHOOK_URL is not set")
    event = repository.lock_event(db, event_id)
    if event is None:
        return Outcome("skipped", detail="no such event, or another worker is delivering it")
    if event.state != DeliveryState.PENDING.value:
        return Outcome("skipped", detail=f"already {event.state}")
    now = utcnow()
    if event.next_attempt_at > now + timedelta(seconds=1):  # a duplicate message: the due one will send
        return Outcome("skipped", detail="not due yet")
    body = body_of(event)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(settings.LEAD_WEBHOOK_SECRET, body),
        "Idempotency-Key": str(event.id),
        "X-Leadinc-Event": event.kind,
        "User-Agent": "leadinc-assistant",
    }
    event.attempts += 1
    error: str | None
    try:
        response = client.post(settings.LEAD_WEBHOOK_URL, content=body, headers=headers)
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:  # the exception text may hold the URL (and a token in it): type only
        error = type(exc).__name__
    if error is None:
        event.state = DeliveryState.DELIVERED.value
        event.delivered_at = utcnow()
        event.last_error = None
        db.flush()
        logger.info("lead delivered", extra={"event_id": str(event.id), "attempts": event.attempts})
        return Outcome("delivered")
    event.last_error = error[:300]
    delay = retry_delay(settings, event.attempts)
    if now + timedelta(seconds=delay) - event.created_at > DELIVERY_WINDOW:
        event.state = DeliveryState.FAILED.value
        db.flush()
        journal_error("lead_delivery_failed", None, event_id=str(event.id), attempts=event.attempts, error=error)
        return Outcome("failed", detail=error)
    event.next_attempt_at = now + timedelta(seconds=delay)
    db.flush()
    logger.info(
        "lead delivery failed, retrying",
        extra={"event_id": str(event.id), "attempts": event.attempts, "error": error, "retry_in": delay},
    )
    return Outcome("retry", retry_in=delay, detail=error)


def overdue_events(db: Session, settings: Settings) -> list[uuid.UUID]:
    """Pending events whose attempt is ``LEAD_SWEEP_SECONDS`` overdue (their message was lost, or its
    worker died), written within the delivery window; none while delivery is off."""
    if not settings.LEAD_WEBHOOK_URL:
        return []
    now = utcnow()
    return repository.overdue_event_ids(
        db,
        due_before=now - timedelta(seconds=settings.LEAD_SWEEP_SECONDS),
        created_after=now - DELIVERY_WINDOW,
        limit=SWEEP_BATCH,
    )
