"""HTTP Chroma mode against a real ``chroma run`` server process started here."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from backend.core.config import Settings
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase
from backend.knowledge.vector_store import VectorStore


@dataclass
class ChromaRun:
    port: int
    process: subprocess.Popen[bytes]


def chroma_binary() -> str | None:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaRun]:
    binary = chroma_binary()
    if binary is None:
        pytest.skip("the `chroma` CLI (shipped with the chromadb package) is not installed")
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    process = subprocess.Popen(
        [binary, "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start: {(tmp_path / 'chroma.log').read_text()}")
            time.sleep(0.2)
        yield ChromaRun(port, process)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def test_index_and_query_through_a_chroma_server(
    chroma_server: ChromaRun, own_index: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = own_index(CHROMA_HOST="127.0.0.1", CHROMA_PORT=chroma_server.port)
    summary = build_index(settings)
    assert summary.faq_articles == 3 and summary.niches == 4
    assert not (tmp_path / "chroma").exists()  # nothing embedded locally: the vectors live in the server

    store = VectorStore(settings)
    store.heartbeat()
    names = store.collection_names()
    assert f"faq_leadinc__{summary.generation}" in names and f"analytics_leadinc__{summary.generation}" in names
    assert store.count(f"faq_leadinc__{summary.generation}") > 3

    kb = await KnowledgeBase.open(settings)
    await kb.health_check()
    assert (await kb.faq_search("как вернуть деньги"))[0].article_id == "901"
    assert (await kb.faq_search("удалить аккаунт", mode="dense"))[0].article_id == "902"
    assert (await kb.analytics_get_by_niche("натяжные потолки")).table is not None

    second = build_index(settings, force=True)  # the old generation's collections are dropped on the server
    names = VectorStore(settings).collection_names()
    assert f"faq_leadinc__{summary.generation}" not in names and f"faq_leadinc__{second.generation}" in names

    # The server goes away: niches still resolve from the vectors held in memory, FAQ from BM25.
    kb = await KnowledgeBase.open(settings)
    chroma_server.process.terminate()
    chroma_server.process.wait(timeout=10)
    assert (await kb.analytics_get_by_niche("стоматология")).niche == "Стоматологические клиники"
    assert await kb.analytics_titles_search("ремонт машины", 3)
    assert (await kb.faq_search("как вернуть деньги"))[0].article_id == "901"
