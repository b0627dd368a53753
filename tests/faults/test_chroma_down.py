"""The Chroma server goes away while the app runs: FAQ questions are still answered, with sources,
and no error reaches the user; ``/health`` reports the vector store down (503). With the FAQ vectors
held in memory (a small collection) the answers do not change at all; with every FAQ query sent to
Chroma (``VECTOR_EXACT_MAX_UNITS=0``) they come from the lexical (BM25) half of the hybrid retrieval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults.support import ChromaServer, chroma_binary

from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.indexer import build_index
from helpers import client_for, derive_settings, stored_messages

FIXTURES = ROOT_DIR / "tests" / "knowledge" / "fixtures"
QUESTIONS = ["Как вернуть деньги, если сервис не подошёл?", "Как удалить аккаунт?"]


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    if chroma_binary() is None:
        pytest.skip("the `chroma` CLI (shipped with the chromadb package) is not installed")
    workdir = tmp_path / "chroma-server"
    workdir.mkdir()
    server = ChromaServer(workdir).start()
    yield server
    server.kill()


@pytest.mark.parametrize("exact_max_units", [0, 20_000], ids=["chroma-queries", "in-memory"])
async def test_faq_survives_a_dead_vector_store(
    settings: Settings, tmp_path: Path, app_factory: Any, chroma: ChromaServer, exact_max_units: int
) -> None:
    remote = derive_settings(
        settings,
        tmp_path,
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT=chroma.port,
        KNOWLEDGE_DIR=tmp_path / "index",
        FAQ_CORPUS_DIR=FIXTURES / "faq",
        ANALYTICS_CORPUS_DIR=FIXTURES / "analytics",
        VECTOR_EXACT_MAX_UNITS=exact_max_units,
    )
    build_index(remote)
    app = await app_factory(remote)
    async with client_for(app) as http:
        assert (await http.get("/health")).json()["checks"]["vector_store"] == "ok"
        before = [(await http.post("/ai/chat", json={"message": q})).json() for q in QUESTIONS]

        chroma.kill()
        after = [await http.post("/ai/chat", json={"message": q}) for q in QUESTIONS]
        health = await http.get("/health")
    for response, reference in zip(after, before, strict=True):
        assert response.status_code == 200, response.text
        reply = response.json()
        assert reply["scenario"] == "FAQ" and reply["action"] == reference["action"]
        assert reply["sources"], reply
        assert reply["sources"][0]["article_id"] == reference["sources"][0]["article_id"]
        if exact_max_units:
            assert reply == reference  # the dense half never left memory
    assert health.status_code == 503
    assert health.json()["checks"]["vector_store"].startswith("down")
    assert health.json()["checks"]["database"] == "ok"
    users = [text for _, text, _ in stored_messages(settings, "user")]
    assert users == QUESTIONS * 2
