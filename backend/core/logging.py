"""Structured JSON logs with a request id, plus the rotated error journal (JSON lines).

The error journal replaces the seed's ``log_error_to_db``: every unhandled error and every failed
background task is appended to it.
"""

from __future__ import annotations

import logging
import logging.handlers
import traceback
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from backend.core.config import Settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

JOURNAL_LOGGER = "leadinc.error_journal"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _formatter() -> JsonFormatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def configure_logging(settings: Settings) -> None:
    """Idempotent: JSON to stderr for everything, JSON lines to the error journal for errors."""
    root = logging.getLogger()
    root.setLevel(settings.LOG_LEVEL.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_leadinc", False):
            root.removeHandler(handler)
    stream = logging.StreamHandler()
    stream.setFormatter(_formatter())
    stream.addFilter(_RequestIdFilter())
    stream._leadinc = True  # type: ignore[attr-defined]
    root.addHandler(stream)

    journal = logging.getLogger(JOURNAL_LOGGER)
    for handler in list(journal.handlers):
        journal.removeHandler(handler)
        handler.close()
    path: Path = settings.error_journal_path
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        path,
        maxBytes=settings.ERROR_JOURNAL_MAX_BYTES,
        backupCount=settings.ERROR_JOURNAL_BACKUPS,
        encoding="utf-8",
    )
    file_handler.setFormatter(_formatter())
    file_handler.addFilter(_RequestIdFilter())
    journal.addHandler(file_handler)
    journal.setLevel(logging.ERROR)
    for noisy in ("uvicorn.access", "httpx", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def journal_error(kind: str, exc: BaseException | None = None, **context: Any) -> None:
    """Append one error to the journal. Never pass secrets, codes or tokens in ``context``."""
    payload: dict[str, Any] = {"kind": kind, **context}
    if exc is not None:
        payload["error_type"] = type(exc).__name__
        payload["error"] = str(exc)[:2000]
        payload["traceback"] = "".join(traceback.format_exception(exc))[-8000:]
    logging.getLogger(JOURNAL_LOGGER).error(kind, extra=payload)
