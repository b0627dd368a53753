"""Voice fixtures: the speech stand-in server, a real Celery worker on the test Redis, and an app
whose settings point at both. The worker is started once per session and shared."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from voice.speech_standin import SpeechStandIn
from voice.workers import WorkerProcess

from backend.core.config import Settings
from helpers import ADMIN_TOKEN, TEST_SECRET, client_for, make_settings

VISIBILITY_TIMEOUT = 5  # seconds before a dead worker's task is delivered again


@pytest.fixture(scope="session")
def speech() -> Iterator[SpeechStandIn]:
    server = SpeechStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def standin(speech: SpeechStandIn) -> SpeechStandIn:
    speech.reset()
    return speech


@pytest.fixture(scope="session")
def voice_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("voice")
    dirs = {"media": root / "media", "var": root / "var", "logs": root / "logs"}
    for path in dirs.values():
        path.mkdir()
    return dirs


def shared_values(database_url: str, redis_url: str, dirs: dict[str, Path], speech: SpeechStandIn) -> dict[str, Any]:
    """What the API under test and the worker processes must agree on."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_DIR": dirs["media"],
        "STT_BASE_URL": speech.base_url,
        "TTS_PROVIDER": "espeak",
        "CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT,
    }


@pytest.fixture(scope="session")
def worker_env(
    database_url: str,
    redis_url: str,
    voice_dirs: dict[str, Path],
    speech: SpeechStandIn,
    knowledge_dirs: dict[str, Any],
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STT_", "TTS_", "ELEVENLABS_"))}
    env.update({k: str(v) for k, v in shared_values(database_url, redis_url, voice_dirs, speech).items()})
    env.update({k: str(v) for k, v in knowledge_dirs.items()})  # the chat step runs the real engine
    env.update(
        {
            "ENVIRONMENT": "test",
            "SECRET": TEST_SECRET,
            "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
            "VAR_DIR": str(voice_dirs["var"]),
            "ERROR_JOURNAL_PATH": str(voice_dirs["logs"] / "error_journal.jsonl"),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def worker(worker_env: dict[str, str], voice_dirs: dict[str, Path]) -> Iterator[WorkerProcess]:
    process = WorkerProcess(worker_env, voice_dirs["logs"]).start()
    yield process
    process.stop()


def voice_settings(
    base: Settings, tmp_path: Path, dirs: dict[str, Path], speech: SpeechStandIn, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        **shared_values(base.DATABASE_URL, base.REDIS_URL, dirs, speech),
        "CHROMA_DIR": base.CHROMA_DIR,
        "KNOWLEDGE_DIR": base.KNOWLEDGE_DIR,
        "FAQ_CORPUS_DIR": base.FAQ_CORPUS_DIR,
        "ANALYTICS_CORPUS_DIR": base.ANALYTICS_CORPUS_DIR,
        "RATE_BURST": "1000/10 seconds",
        "RATE_BURST_IP": "1000/10 seconds",
        "RATE_DAILY_GUEST": "10000/day",
        "RATE_DAILY_IP": "10000/day",
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


@pytest_asyncio.fixture
async def voice_client(
    settings: Settings, tmp_path: Path, app_factory: Any, standin: SpeechStandIn, voice_dirs: dict[str, Path]
) -> AsyncIterator[httpx.AsyncClient]:
    """An API client whose tasks go to the shared worker (request the ``worker`` fixture too)."""
    app = await app_factory(voice_settings(settings, tmp_path, voice_dirs, standin))
    async with client_for(app) as http:
        yield http
