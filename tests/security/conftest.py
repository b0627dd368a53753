"""Fixtures of the security tests: the OpenAI stand-in and a client whose app talks to it."""

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


@pytest.fixture(scope="module")
def llm() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_llm(llm: OpenAIStandIn) -> OpenAIStandIn:
    llm.script.clear()
    llm.requests.clear()
    llm.default = None
    return llm


@pytest_asyncio.fixture
async def model_client(
    settings: Settings, tmp_path: Path, app_factory: Any, fresh_llm: OpenAIStandIn
) -> AsyncIterator[httpx.AsyncClient]:
    app = await app_factory(
        derive_settings(
            settings,
            tmp_path,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fresh_llm.base_url,
            OPENAI_TIMEOUT_SECONDS=2,
            OPENAI_MAX_RETRIES=1,
        )
    )
    async with client_for(app) as http:
        yield http
