"""Error reporting to Sentry (``sentry-sdk``) when ``SENTRY_DSN`` is set; nothing otherwise.

Called once per process before the app is built: by ``create_app`` (the API: the FastAPI/Starlette
integration reports unhandled errors, i.e. our 500 ``INTERNAL_ERROR``) and by ``backend.worker``
(Celery: a task that fails for good). Nothing personal leaves the process: no request bodies, no
cookies or headers with credentials (``send_default_pii`` off), no local variables of stack frames
(they may hold a password, a code or a token), no Redis or SQL breadcrumbs (a Redis key holds the
session id, which is a credential; SQL may carry values); performance tracing stays off.
"""

from __future__ import annotations

import logging
from typing import Any

from backend.core.config import Settings

logger = logging.getLogger(__name__)

DROPPED_BREADCRUMBS = frozenset({"redis", "query"})  # Redis commands with their keys, SQL statements


def _breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    return None if crumb.get("category") in DROPPED_BREADCRUMBS else crumb


def init_sentry(settings: Settings, component: str) -> bool:
    """Start reporting for ``component`` (``api`` or ``worker``); False when no DSN is configured."""
    if not settings.SENTRY_DSN:
        return False
    import sentry_sdk  # only a configured deployment pays for the import

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.ENVIRONMENT,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=0.0,
        before_breadcrumb=_breadcrumb,
    )
    sentry_sdk.set_tag("component", component)
    logger.info("sentry reporting on", extra={"component": component})
    return True
