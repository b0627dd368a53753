"""Account tasks on the ``text`` queue.

``auth.registration_notice(user_id)`` mails the operator (``ADMIN_EMAIL``) a short notice of a new
account: contact, city, niche. It reads the account after the registration committed, so it reports
what was stored; a deleted account or an unset ``ADMIN_EMAIL`` sends nothing. An SMTP failure is
retried with exponential backoff (Celery autoretry), then lands in the error journal.
"""

from __future__ import annotations

import uuid
from typing import Any

from backend.auth.emails import send_registration_notice
from backend.auth.mailer import MailDeliveryFailed
from backend.auth.models import User
from backend.core.celery import app_of, task

# How every operator notice (this one, the handoff notice of ``chat.tasks``) survives SMTP trouble:
# backoff 2, 4, 8 … 64 s (jittered), six retries: about two minutes.
NOTICE_OPTIONS: dict[str, Any] = {
    "autoretry_for": (MailDeliveryFailed,),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
    "soft_time_limit": 60,
    "time_limit": 90,
}


@task("auth.registration_notice", **NOTICE_OPTIONS)
def registration_notice(self: Any, user_id: str) -> dict[str, Any]:
    app = app_of(self)
    settings = app.settings
    if not settings.ADMIN_EMAIL:
        return {"sent": False, "reason": "ADMIN_EMAIL is not set"}
    with app.db_session() as db:
        user = db.get(User, uuid.UUID(user_id))
        if user is None:
            return {"sent": False, "reason": "the account no longer exists"}
        contact, city, niche, at = user.email, user.city, user.niche, user.created_at
    loop = app.loop
    loop.run_until_complete(send_registration_notice(settings, contact=contact, city=city, niche=niche, at=at))
    return {"sent": True}
