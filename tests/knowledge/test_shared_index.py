"""The index without a shared disk (``INDEX_STORE=redis``): two "hosts" with their own KNOWLEDGE_DIR
share only Redis and the vector store. A reindex on host A is published; host B, which never saw
A's directory, loads it within 5 s without a restart and keeps answering during the switch; the
replaced generation's collections survive the grace period and are deleted by a later reindex."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from backend.core.config import Settings
from backend.knowledge.indexer import build_index, ensure_index
from backend.knowledge.service import KnowledgeBase
from backend.knowledge.shared_index import SharedIndex
from backend.knowledge.vector_store import VectorStore

NEW_ARTICLE = """---
article_id: "977"
title: Перенос заявок в таблицу
summary: Заявки выгружаются в таблицу одной кнопкой в разделе «Экспорт».
tags: [экспорт, таблица]
---
Откройте раздел «Экспорт» и выберите формат файла.
"""


def hosts(
    own_index: Callable[..., Settings], tmp_path: Path, redis_url: str, **extra: object
) -> tuple[Settings, Settings]:
    prefix = f"leadinc-test:{uuid.uuid4().hex}"
    shared = {"INDEX_STORE": "redis", "REDIS_URL": redis_url, "INDEX_REDIS_PREFIX": prefix, **extra}
    return (
        own_index(KNOWLEDGE_DIR=tmp_path / "host-a" / "knowledge", **shared),
        own_index(KNOWLEDGE_DIR=tmp_path / "host-b" / "knowledge", **shared),
    )


async def test_a_reindex_on_host_a_is_served_by_host_b_within_5_s(
    own_index: Callable[..., Settings], tmp_path: Path, redis_url: str
) -> None:
    host_a, host_b = hosts(own_index, tmp_path, redis_url)
    first = build_index(host_a)
    assert ensure_index(host_b, progress=False) is None  # B sees the published index: nothing to build
    assert not host_b.knowledge_dir.exists()
    kb_b = await KnowledgeBase.open(host_b)  # B's cache is filled from Redis
    assert (host_b.knowledge_dir / "generations" / first.generation / "faq.json").exists()
    assert (await kb_b.faq_search("Как вернуть деньги?"))[0].article_id == "901"
    assert all(hit.article_id != "977" for hit in await kb_b.faq_search("Как выгрузить заявки в таблицу?"))

    errors: list[BaseException] = []
    answered = 0
    stop = asyncio.Event()

    async def keep_asking() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                hits = await kb_b.faq_search("Как вернуть деньги?")
                assert hits and hits[0].article_id == "901"
                answered += 1
            except BaseException as exc:  # every error during the switch is a failure
                errors.append(exc)
            await asyncio.sleep(0.005)

    asker = asyncio.create_task(keep_asking())
    (host_a.FAQ_CORPUS_DIR / "export.md").write_text(NEW_ARTICLE, encoding="utf-8")
    second = await asyncio.to_thread(build_index, host_a)
    published = time.monotonic()
    while kb_b._current().manifest.generation != second.generation:
        assert time.monotonic() - published < 5.0, "host B did not load the new generation within 5 s"
        await asyncio.sleep(0.02)
    switched_after = time.monotonic() - published
    hits = await kb_b.faq_search("Как выгрузить заявки в таблицу?")
    await asyncio.sleep(0.3)
    stop.set()
    await asker
    assert errors == [] and answered > 20
    assert hits[0].article_id == "977" and switched_after < 5.0

    # the replaced generation stays during the grace period (a process may still query it) ...
    names = VectorStore(host_a).collection_names()
    assert f"{host_a.CHROMA_FAQ_COLLECTION}__{first.generation}" in names
    shared = SharedIndex(host_a)
    assert [m.generation for m in shared.expired(now=time.time() + host_a.INDEX_GRACE_SECONDS + 1)] == [
        first.generation
    ]
    assert shared.expired() == []


async def test_the_old_generation_is_deleted_only_after_the_grace_period(
    own_index: Callable[..., Settings], tmp_path: Path, redis_url: str
) -> None:
    host_a, host_b = hosts(own_index, tmp_path, redis_url, INDEX_GRACE_SECONDS=1)
    first = build_index(host_a)
    kb_b = await KnowledgeBase.open(host_b)
    second = build_index(host_a, force=True)  # within the grace period: the first one is kept
    store = VectorStore(host_a)
    old_faq = f"{host_a.CHROMA_FAQ_COLLECTION}__{first.generation}"
    assert old_faq in store.collection_names()
    await asyncio.sleep(1.2)
    third = build_index(host_a, force=True)  # the first is past its grace now; the second is not
    names = store.collection_names()
    assert old_faq not in names
    assert f"{host_a.CHROMA_FAQ_COLLECTION}__{second.generation}" in names
    assert SharedIndex(host_a).redis.exists(f"{host_a.INDEX_REDIS_PREFIX}:gen:{first.generation}") == 0
    # B, which was still on the first generation, answers without an error and moves on
    assert (await kb_b.faq_search("Как вернуть деньги?"))[0].article_id == "901"
    assert kb_b._current(force=True).manifest.generation == third.generation
