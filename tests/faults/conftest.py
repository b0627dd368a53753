"""Fixtures of the fault tests: the OpenAI stand-in (a real local HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai_standin import OpenAIStandIn


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
