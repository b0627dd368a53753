from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from openai_standin import OpenAIStandIn

from backend.core.config import Settings
from helpers import client_for, derive_settings


@pytest.fixture(scope="session")
def standin() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_standin(standin: OpenAIStandIn) -> OpenAIStandIn:
    standin.script.clear()
    standin.requests.clear()
    standin.default = None
    return standin


@pytest_asyncio.fixture
async def openai_client(
    settings: Settings, tmp_path: Path, app_factory: Any, fresh_standin: OpenAIStandIn
) -> AsyncIterator[httpx.AsyncClient]:
    app = await app_factory(
        derive_settings(
            settings,
            tmp_path,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fresh_standin.base_url,
            OPENAI_TIMEOUT_SECONDS=2,
            OPENAI_MAX_RETRIES=1,
        )
    )
    async with client_for(app) as http:
        yield http
