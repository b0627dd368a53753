"""The Celery application factory: broker and result backend from the one Redis setting.

Queues: ``text`` (chat turns) and ``audio`` (speech in and out), routed by task-name prefix.
``acks_late`` with ``task_reject_on_worker_lost`` means a task whose worker dies mid-run is delivered
again (immediately when a pool child dies, after ``CELERY_VISIBILITY_TIMEOUT`` when the whole worker
dies). Nothing here imports a domain; task modules are named as strings.

Tasks are declared with :func:`task` (a typed wrapper of ``shared_task``) so they register on every
app built here: the worker's (``backend.worker``) and the producer the API builds per settings.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

from celery import Celery, Task, shared_task
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.core.config import Settings
from backend.core.database import create_sync_db_engine, sync_session_factory
from backend.core.logging import journal_error

QUEUES = ("text", "audio")
TASK_MODULES = ("backend.voice.tasks", "backend.chat.tasks", "backend.auth.tasks", "backend.leads.tasks")
# The composition root that builds a worker process's runtime (engine, services), named as a string
# like the task modules: tasks ask their app for it (``LeadincCelery.runtime``) instead of importing it.
RUNTIME_FACTORY = "backend.runtime:build_runtime"
TASK_ROUTES = {
    "voice.*": {"queue": "audio"},
    "chat.*": {"queue": "text"},
    "auth.*": {"queue": "text"},
    "leads.*": {"queue": "text"},
}
RESULT_EXPIRES_SECONDS = 24 * 3600  # results and task ownership records live this long

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def broker_url(redis_url: str) -> str:
    """The Redis URL in the form kombu and the result backend understand.

    ``unix:///path/redis.sock?db=N`` (the embedded server) becomes ``redis+socket:///path?virtual_host=N``.
    """
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={db}"


def transport_options(visibility_timeout: int) -> dict[str, Any]:
    # Sweep for abandoned (unacknowledged) messages about ten times per visibility window.
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": max(1, min(60, visibility_timeout // 10)),
        "unacked_restore_throttle": 1,
    }


def celery_config(settings: Settings, redis_url: str) -> dict[str, Any]:
    url = broker_url(redis_url)
    return {
        "broker_url": url,
        "result_backend": url,
        "broker_transport_options": transport_options(settings.CELERY_VISIBILITY_TIMEOUT),
        "result_backend_transport_options": {"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT},
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_extended": True,
        "result_expires": RESULT_EXPIRES_SECONDS,
        "task_default_queue": "text",
        "task_routes": TASK_ROUTES,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_track_started": True,
        "worker_prefetch_multiplier": 1,  # the audio worker keeps it; the text worker may raise it
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_always_eager": settings.CELERY_EAGER,
        "task_store_eager_result": True,
        "task_eager_propagates": False,
        "timezone": settings.TIMEZONE,
        "enable_utc": True,
    }


class JournaledTask(Task):  # type: ignore[misc]  # celery ships no type information
    """Every task that finally fails lands in the error journal (arguments are never logged)."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        journal_error("task_failed", exc, task=self.name, task_id=task_id, retries=self.request.retries)


class LeadincCelery(Celery):  # type: ignore[misc]
    """A Celery app that carries the settings and per-process resources (DB engine, providers)."""

    def __init__(self, settings: Settings, redis_url: str) -> None:
        super().__init__("leadinc", task_cls=JournaledTask)
        self.settings = settings
        self.config_from_object(celery_config(settings, redis_url))
        self._resources: dict[str, Any] = {}
        self._resources_pid = os.getpid()

    def resource(self, key: str, factory: Callable[[], T]) -> T:
        """A per-process cache: a forked pool child never reuses its parent's engine or clients."""
        if self._resources_pid != os.getpid():
            self._resources = {}
            self._resources_pid = os.getpid()
        if key not in self._resources:
            self._resources[key] = factory()
        return cast(T, self._resources[key])

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """This process's event loop for tasks that run async code (one per process, kept open)."""
        return self.resource("event_loop", asyncio.new_event_loop)

    def runtime(self, loop: asyncio.AbstractEventLoop) -> Any:
        """This process's runtime (``backend.runtime.Runtime``), built once on ``loop``."""

        def build() -> Any:
            module, name = RUNTIME_FACTORY.split(":")
            factory = getattr(importlib.import_module(module), name)
            return loop.run_until_complete(factory(self.settings))

        return self.resource("runtime", build)

    @contextmanager
    def db_session(self) -> Iterator[Session]:
        """Unit of work for tasks: commit on success, roll back on error."""
        factory: sessionmaker[Session] = self.resource("db_factory", self._session_factory)
        with factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def _session_factory(self) -> sessionmaker[Session]:
        engine: Engine = self.resource("db_engine", lambda: create_sync_db_engine(self.settings))
        return sync_session_factory(engine)


def create_celery_app(settings: Settings, redis_url: str) -> LeadincCelery:
    app = LeadincCelery(settings, redis_url)
    app.conf.include = list(TASK_MODULES)
    if settings.CELERY_EAGER:  # tasks run in this process, so they must be registered here
        for module in TASK_MODULES:
            importlib.import_module(module)
    return app


_producers: dict[str, LeadincCelery] = {}


def shared_producer(settings: Settings, redis_url: str) -> LeadincCelery:
    """This process's app for sending tasks to ``redis_url`` (built once per process and URL), for
    code that sends a task without a runtime at hand (e.g. the registration notice). With
    ``CELERY_EAGER`` the task runs in this process with ``settings``, so that app is not shared."""
    if settings.CELERY_EAGER:
        return create_celery_app(settings, redis_url)
    key = f"{os.getpid()}:{redis_url}"
    if key not in _producers:
        _producers[key] = create_celery_app(settings, redis_url)
    return _producers[key]


def task(name: str, **options: Any) -> Callable[[F], F]:
    """``shared_task`` with a name, typed for mypy. Call tasks by name: ``app.signature(name, ...)``."""
    return cast(Callable[[F], F], shared_task(name=name, bind=True, **options))


def app_of(task_self: Any) -> LeadincCelery:
    """The app a bound task runs in (the worker's, or the API's when eager)."""
    app = task_self.app
    if not isinstance(app, LeadincCelery):
        raise RuntimeError("tasks must run in an app built by backend.core.celery.create_celery_app")
    return app


def worker_argv(
    queues: str,
    *,
    concurrency: int = 1,
    prefetch: int = 1,
    pool: str = "prefork",
    node: str | None = None,
    beat_schedule: Path | None = None,
    loglevel: str = "INFO",
) -> list[str]:
    """The command line of one worker, e.g. ``worker_argv("audio")``; runs from the repo root."""
    argv = [
        sys.executable, "-m", "celery", "-A", "backend.worker", "worker",
        "-Q", queues,
        "-n", node or f"{queues.replace(',', '-')}@%h",
        "--pool", pool,
        "--concurrency", str(concurrency),
        "--prefetch-multiplier", str(prefetch),
        "--without-gossip", "--without-mingle",
        "--loglevel", loglevel,
    ]  # fmt: skip
    if beat_schedule is not None:  # embedded beat: one process only (development, single host)
        argv += ["--beat", "--schedule", str(beat_schedule)]
    return argv


def embedded_worker_commands(settings: Settings) -> list[list[str]]:
    """The two workers the embedded launcher starts: ``text`` and ``audio`` (with the beat)."""
    return [
        worker_argv("text", prefetch=4),
        worker_argv("audio", beat_schedule=settings.VAR_DIR / "celerybeat-schedule"),
    ]
