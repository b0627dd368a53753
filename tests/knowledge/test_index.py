"""Index generations: incremental reindex, atomic switch under load, model switches, determinism."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest
from knowledge.support import FAQ_A, write
from openai_standin import OpenAIStandIn

from backend.core.config import Settings
from backend.knowledge.embeddings import E5Embedder, LocalEmbedder, build_embedder
from backend.knowledge.exceptions import IndexMismatch
from backend.knowledge.index_files import INDEX_FORMAT, IndexPaths
from backend.knowledge.indexer import build_index
from backend.knowledge.service import RELOAD_CHECK_SECONDS, KnowledgeBase
from backend.knowledge.vector_store import VectorStore


def test_local_embedder_is_deterministic() -> None:
    texts = ["Как вернуть деньги", "Интеграция с amoCRM", "натяжные потолки", "a" * 2000]
    first = LocalEmbedder().embed(texts)
    again = LocalEmbedder().embed(texts)
    assert first.shape == (4, 512) and first.dtype == np.float32
    assert np.array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    alone = np.vstack([LocalEmbedder().embed([t]) for t in texts])
    np.testing.assert_allclose(alone, first, atol=1e-5)  # batch composition does not matter
    assert LocalEmbedder().embed([]).shape == (0, 512)


async def test_reindex_is_incremental_and_switches_atomically(own_index: Callable[..., Settings]) -> None:
    settings = own_index()
    paths = IndexPaths.from_settings(settings)
    first = build_index(settings)
    assert (first.faq_articles, first.niches, first.new, first.embedded) == (3, 4, 7, first.embedded)
    assert first.embedded > 7 and not first.unchanged
    kb = await KnowledgeBase.open(settings)
    before = [h.article_id for h in await kb.faq_search("как вернуть деньги")]

    unchanged = build_index(settings)
    assert unchanged.unchanged and unchanged.generation == first.generation and "no changes" in unchanged.describe()

    refunds = settings.FAQ_CORPUS_DIR / "refunds.md"
    refunds.write_text(refunds.read_text("utf-8").replace("10 рабочих дней", "5 рабочих дней"), "utf-8")
    (settings.FAQ_CORPUS_DIR / "crm.md").unlink()
    write(settings.FAQ_CORPUS_DIR / "new.md", FAQ_A.replace('"1"', '"950"').replace("деньги", "средства"))
    second = build_index(settings)
    assert (second.new, second.changed, second.removed) == (1, 1, 1)
    assert 0 < second.embedded <= 8  # only the changed and new articles' texts
    assert not paths.generation(first.generation).exists()
    assert paths.read_manifest().generation == second.generation  # type: ignore[union-attr]
    store = VectorStore(settings)
    assert sorted(store.collection_names()) == sorted(
        [f"faq_leadinc__{second.generation}", f"analytics_leadinc__{second.generation}"]
    )

    await asyncio.sleep(RELOAD_CHECK_SECONDS + 0.1)  # the running service notices the new generation
    ids = {h.article_id for h in await kb.faq_search("интеграция crm вернуть деньги средства", 10)}
    assert "903" not in ids and "950" in ids
    assert (await kb.faq_get_by_id("901")).summary.endswith("в течение 5 рабочих дней.")
    assert before[0] == "901"

    forced = build_index(settings, force=True)
    assert forced.generation != second.generation and forced.embedded == 0  # all from the cache


async def test_queries_keep_answering_during_reindex(own_index: Callable[..., Settings]) -> None:
    settings = own_index()
    build_index(settings)
    kb = await KnowledgeBase.open(settings)
    niches = settings.ANALYTICS_CORPUS_DIR / "niches.md"
    done = asyncio.Event()
    errors: list[BaseException] = []
    answered = 0

    original = niches.read_text("utf-8")

    def reindex_many() -> None:
        for round_ in range(4):
            niches.write_text(original.replace("Высокая конкуренция.", f"Высокая конкуренция ({round_})."), "utf-8")
            build_index(settings, force=round_ % 2 == 1)

    async def ask() -> None:
        nonlocal answered
        while not done.is_set():
            try:
                hits = await kb.faq_search("как вернуть деньги")
                assert hits and hits[0].article_id == "901"
                found = await kb.analytics_get_by_niche("ремонт квартир")
                assert found.niche == "Ремонт квартир" and found.table is not None
                assert await kb.analytics_search("спрос весной")
                answered += 1
            except BaseException as exc:
                errors.append(exc)
                return

    async def build() -> None:
        try:
            await asyncio.to_thread(reindex_many)
        finally:
            done.set()

    await asyncio.gather(build(), ask(), ask())
    assert not errors, errors
    assert answered >= 4
    await asyncio.sleep(RELOAD_CHECK_SECONDS + 0.1)
    assert "(3)" in (await kb.analytics_get_by_niche("ремонт квартир")).analytics  # type: ignore[operator]


async def test_model_switch_is_refused_or_rebuilt_cleanly(
    own_index: Callable[..., Settings], standin: OpenAIStandIn
) -> None:
    local = own_index()
    build_index(local)
    remote = own_index(
        EMBEDDINGS_PROVIDER="openai", OPENAI_BASE_URL=standin.base_url, OPENAI_API_KEY="k", EMBEDDINGS_MODEL="hash-64"
    )
    running = await KnowledgeBase.open(local)
    assert (await running.faq_search("вернуть деньги"))[0].article_id == "901"

    with pytest.raises(IndexMismatch) as info:
        await KnowledgeBase.open(remote)
    assert info.value.status_code == 409
    assert "local:use-multilingual-v3" in info.value.detail and "hash-64" in info.value.detail

    old = IndexPaths.from_settings(local).read_manifest()
    rebuilt = build_index(remote)
    assert (rebuilt.new, rebuilt.changed, rebuilt.removed) == (7, 0, 0)  # nothing reused across models
    assert rebuilt.embedded >= 7 and standin.embedding_requests
    manifest = IndexPaths.from_settings(remote).read_manifest()
    assert manifest is not None and manifest.model_id == f"openai:{standin.base_url}:hash-64"
    assert old is not None and old.faq_collection not in VectorStore(local).collection_names()

    kb = await KnowledgeBase.open(remote)
    assert (await kb.faq_search("вернуть деньги"))[0].article_id == "901"
    await asyncio.sleep(RELOAD_CHECK_SECONDS + 0.1)
    with pytest.raises(IndexMismatch):  # the running local-model service refuses, it never mixes
        await running.faq_search("вернуть деньги")
    with pytest.raises(IndexMismatch):
        await KnowledgeBase.open(local)


def test_offline_model_choice_and_e5_determinism(own_index: Callable[..., Settings]) -> None:
    assert isinstance(build_embedder(own_index()), LocalEmbedder)
    e5 = build_embedder(own_index(EMBEDDINGS_MODEL="multilingual-e5-small"))
    assert isinstance(e5, E5Embedder) and e5.model_id != LocalEmbedder.model_id
    with pytest.raises(ValueError, match="not an offline model"):
        build_embedder(own_index(EMBEDDINGS_MODEL="text-embedding-3-small"))
    texts = ["Как вернуть деньги", "натяжные потолки"]
    passages, queries = e5.embed(texts), e5.embed_queries(texts)
    assert passages.shape == (2, 384) and np.array_equal(passages, E5Embedder().embed(texts))
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(passages, queries)  # "query: " and "passage: " prefixes differ


async def test_index_with_e5(own_index: Callable[..., Settings]) -> None:
    settings = own_index(EMBEDDINGS_MODEL="multilingual-e5-small")
    build_index(settings)
    kb = await KnowledgeBase.open(settings)
    assert (await kb.faq_search("как удалить учётную запись", mode="dense"))[0].article_id == "902"
    assert (await kb.analytics_get_by_niche("стоматология")).niche == "Стоматологические клиники"


def test_an_older_index_format_is_rebuilt_not_reported_unchanged(own_index: Callable[..., Settings]) -> None:
    settings = own_index()
    paths = IndexPaths.from_settings(settings)
    first = build_index(settings)
    manifest = paths.read_manifest()
    assert manifest is not None and manifest.index_format == INDEX_FORMAT
    manifest.index_format = INDEX_FORMAT - 1  # as written by an older release, same corpus and model
    paths.switch(manifest)
    rebuilt = build_index(settings)
    assert not rebuilt.unchanged and rebuilt.generation != first.generation
    assert rebuilt.embedded == 0  # the vectors still come from the content-hash cache
    assert build_index(settings).unchanged
