"""A reindex killed halfway (SIGKILL while it embeds the analytics corpus, its new generation
already on disk): the old index keeps serving, both to a server that was running and to a fresh
one, and a later reindex succeeds and is picked up without a restart."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from faults.support import wait_for

from backend.core.config import ROOT_DIR
from backend.knowledge.index_files import IndexPaths
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase
from helpers import make_settings

FIXTURES = ROOT_DIR / "tests" / "knowledge" / "fixtures"
NEW_ARTICLE = """---
article_id: "950"
title: Как сменить тариф
summary: Тариф меняется в личном кабинете в разделе «Оплата» с начала следующего периода.
tags: [тариф, смена тарифа]
---
Откройте «Оплата», выберите новый тариф и подтвердите.
"""


def reindex(settings_env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scripts.reindex", "index", "--force", *args],
            cwd=ROOT_DIR,
            env=settings_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def test_killed_reindex_leaves_the_old_index_serving(tmp_path: Path) -> None:
    faq, analytics = tmp_path / "corpus" / "faq", tmp_path / "corpus" / "analytics"
    shutil.copytree(FIXTURES / "faq", faq)
    shutil.copytree(FIXTURES / "analytics", analytics)
    dirs = {
        "VAR_DIR": tmp_path / "var",
        "KNOWLEDGE_DIR": tmp_path / "index",
        "CHROMA_DIR": tmp_path / "chroma",
        "FAQ_CORPUS_DIR": faq,
        "ANALYTICS_CORPUS_DIR": analytics,
    }
    settings = make_settings(tmp_path, **dirs)
    old = build_index(settings)
    live = await KnowledgeBase.open(settings)  # a server already running on the old generation
    assert (await live.faq_search("как вернуть деньги"))[0].article_id == "901"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBEDDINGS_", "CHROMA_"))}
    env |= {k: str(v) for k, v in dirs.items()} | {"ENVIRONMENT": "test", "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "reindex.log"
    # The demo corpora (32 articles, 449 niches) take long enough to embed to be caught in the middle.
    demo = ("--faq-dir", str(ROOT_DIR / "faq"), "--analytics-dir", str(ROOT_DIR / "analytic" / "niches"))
    killed = reindex(env, log, *demo)
    try:
        wait_for(lambda: "embedding analytics" in log.read_text(errors="replace"), 90, "the analytics embedding step")
    finally:
        os.killpg(killed.pid, 9)
        killed.wait(timeout=10)
    paths = IndexPaths.from_settings(settings)
    manifest = paths.read_manifest()
    assert manifest is not None and manifest.generation == old.generation, "the killed run must not have switched"
    half_built = [p.name for p in (paths.generation(old.generation).parent).iterdir() if p.name != old.generation]
    assert half_built, "the killed run should have left its unfinished generation behind"

    assert (await live.faq_search("как вернуть деньги"))[0].article_id == "901"
    fresh = await KnowledgeBase.open(settings)  # a server started after the crash
    hits = await fresh.faq_search("удалить аккаунт")
    assert hits and hits[0].article_id == "902"
    assert (await fresh.analytics_get_by_niche("натяжные потолки")).table is not None
    await fresh.health_check()

    (faq / "tariff.md").write_text(NEW_ARTICLE, encoding="utf-8")
    later = reindex(env, tmp_path / "reindex-2.log")
    assert later.wait(timeout=120) == 0, (tmp_path / "reindex-2.log").read_text(errors="replace")
    switched = paths.read_manifest()
    assert switched is not None and switched.generation != old.generation

    deadline = time.monotonic() + 10
    while True:  # the running server notices the new manifest on its own
        hits = await live.faq_search("как сменить тариф")
        if hits and hits[0].article_id == "950":
            break
        assert time.monotonic() < deadline, [h.article_id for h in hits]
        await asyncio.sleep(0.2)
    await live.health_check()
