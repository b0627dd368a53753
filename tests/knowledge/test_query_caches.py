"""The per-turn hot path of retrieval: one embedding per distinct query text (a bounded LRU in
``KnowledgeBase.encode_queries``) and one Chroma collection handle per collection name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backend.core.config import Settings
from backend.knowledge.embeddings import LocalEmbedder
from backend.knowledge.service import KnowledgeBase
from backend.knowledge.vector_store import VectorStore


class CountingEmbedder:
    def __init__(self) -> None:
        self.inner = LocalEmbedder()
        self.model_id = self.inner.model_id
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return self.inner.embed_queries(texts)


async def test_a_query_text_is_embedded_once(kb_settings: Settings) -> None:
    embedder = CountingEmbedder()
    kb = await KnowledgeBase.open(kb_settings, embedder)
    embedder.seen.clear()
    first = kb.encode_queries(["Как вернуть деньги?", "натяжные потолки"])
    again = kb.encode_queries(["как  вернуть деньги", "стоматология", "натяжные потолки"])
    assert embedder.seen == ["как вернуть деньги", "натяжные потолки", "стоматология"]
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[2])
    np.testing.assert_allclose(again[1], embedder.inner.embed_queries(["стоматология"])[0], rtol=1e-6)
    again[0][:] = 0.0  # callers get copies: the cache cannot be changed from outside
    np.testing.assert_array_equal(kb.encode_queries(["как вернуть деньги"])[0], first[0])


async def test_one_turn_embeds_its_text_once(kb_settings: Settings) -> None:
    """The router, the niche resolver and the FAQ search embed the same normalised text."""
    embedder = CountingEmbedder()
    kb = await KnowledgeBase.open(kb_settings, embedder)
    embedder.seen.clear()
    text = "Сколько стоят потолки?"
    kb.encode_queries([" ".join(text.split())])
    await kb.resolve_niche(text)
    await kb.faq_search(text)
    assert len(embedder.seen) == 1, embedder.seen


async def test_the_query_cache_is_bounded(kb_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.knowledge.service.QUERY_CACHE_SIZE", 4)
    embedder = CountingEmbedder()
    kb = await KnowledgeBase.open(kb_settings, embedder)
    for i in range(10):
        kb.encode_queries([f"вопрос номер {i}"])
    assert len(kb._query_vectors) == 4
    embedder.seen.clear()
    kb.encode_queries(["вопрос номер 9", "вопрос номер 0"])  # the newest is kept, the oldest evicted
    assert embedder.seen == ["вопрос номер 0"]


def _fill(store: VectorStore, ids: list[str]) -> None:
    vectors = np.eye(len(ids), dtype=np.float32)
    store.write_collection("cache_probe", ids, vectors, [{"key": i} for i in ids], ["" for _ in ids])


def test_the_collection_handle_is_reused_until_the_collection_changes(
    kb_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = kb_settings.model_copy(update={"CHROMA_DIR": tmp_path / "chroma"})
    store = VectorStore(settings)
    calls: list[str] = []
    real = store._client.get_collection

    def counting(name: str, **kwargs: Any) -> Any:
        calls.append(name)
        return real(name, **kwargs)

    monkeypatch.setattr(store._client, "get_collection", counting)
    axis = np.eye(3, dtype=np.float32)
    _fill(store, ["a", "b", "c"])
    for _ in range(3):
        assert store.query("cache_probe", axis[0], 1)[0].id == "a"
    assert calls == ["cache_probe"]
    _fill(store, ["x", "y", "z"])  # rebuilt under the same name by this store: the handle is dropped
    assert store.query("cache_probe", axis[1], 1)[0].id == "y"
    _fill(VectorStore(settings), ["p", "q", "r"])  # ... or by another one: the stale handle is replaced
    assert store.query("cache_probe", axis[2], 1)[0].id == "r"
    assert calls == ["cache_probe"] * 3


async def test_a_question_is_looked_up_once_per_generation(kb_settings: Settings) -> None:
    """The router's signals and the FAQ tool ask the same question in one turn; the niche probe and
    the analytics tool resolve the same words: the generation answers the second time from memory."""
    kb = await KnowledgeBase.open(kb_settings, LocalEmbedder())
    text = "Как вернуть деньги?"
    await kb.signals(text)
    first = await kb.faq_lookup(text, 5)
    shorter = await kb.faq_lookup(text, 2)
    assert shorter.hits == first.hits[:2] and shorter.hits[0] is first.hits[0]  # the same objects: not recomputed
    assert shorter.known_share == first.known_share
    other = await kb.faq_lookup(text, 5, last_article_id=first.hits[0].article_id)
    assert first.hits[0].article_id not in {h.article_id for h in other.hits}
    assert await kb.resolve_niche("натяжные потолки") is await kb.resolve_niche("натяжные потолки")
