"""The retrieval evaluation (scripts/eval/knowledge_eval.py) as a test, on the demo corpora.

Thresholds sit a little below the figures measured on 2026-11-26 (see the report of
``python -m scripts.eval.knowledge_eval``): FAQ hybrid hit@1 0.908, hit@5 0.975, MRR 0.937;
dense-only 0.773 / 0.941, lexical-only 0.798 / 0.891; niche accuracy 0.983, none confidently wrong.
"""

from __future__ import annotations

import pytest

from backend.core.config import Settings
from backend.knowledge.corpus import parse_analytics, parse_faq
from backend.knowledge.service import KnowledgeBase
from scripts.eval.knowledge_eval import RankMetrics, evaluate_faq, evaluate_niches, load_queries, rank_metrics


@pytest.fixture(scope="module")
def faq_queries() -> list[dict[str, str]]:
    return load_queries("faq_queries.yaml")


def test_query_sets_are_well_formed(demo_settings: Settings) -> None:
    faq = load_queries("faq_queries.yaml")
    niches = load_queries("niche_queries.yaml")
    assert len(faq) >= 70 and len(niches) >= 70
    assert len({q["query"] for q in faq}) == len(faq) and len({q["query"] for q in niches}) == len(niches)
    ids = {r.article_id for r in parse_faq(demo_settings.FAQ_CORPUS_DIR)}
    titles = {r.niche for r in parse_analytics(demo_settings.ANALYTICS_CORPUS_DIR)}
    assert {q["article_id"] for q in faq} <= ids and {q["niche"] for q in niches} <= titles
    assert {"translit", "typo", "mixed_en", "slang"} <= {q["kind"] for q in faq}
    assert {"translit", "typo", "declension", "request", "indirect"} <= {q["kind"] for q in niches}


def test_rank_metrics() -> None:
    items = [{"query": "a", "id": "1"}, {"query": "b", "id": "2"}, {"query": "c", "id": "3"}]
    metrics = rank_metrics([(items[0], ["1", "2"]), (items[1], ["1", "3", "4", "5", "6", "2"]), (items[2], [])], "id")
    assert isinstance(metrics, RankMetrics) and metrics.n == 3
    assert (metrics.hit1, metrics.hit5) == pytest.approx((1 / 3, 1 / 3))
    assert metrics.mrr == pytest.approx((1 + 1 / 6) / 3) and len(metrics.misses) == 2


async def test_faq_retrieval_quality(demo_settings: Settings, faq_queries: list[dict[str, str]]) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    hybrid = await evaluate_faq(kb, faq_queries, "hybrid")
    dense = await evaluate_faq(kb, faq_queries, "dense")
    lexical = await evaluate_faq(kb, faq_queries, "lexical")
    report = f"hybrid {hybrid.hit1:.3f}/{hybrid.hit5:.3f}, dense {dense.hit1:.3f}, lexical {lexical.hit1:.3f}"
    assert hybrid.hit1 >= 0.88, report + "\n" + "\n".join(hybrid.misses)
    assert hybrid.hit5 >= 0.96 and hybrid.mrr >= 0.91, report
    assert dense.hit1 >= 0.74 and lexical.hit1 >= 0.76, report
    assert hybrid.hit1 > max(dense.hit1, lexical.hit1) and hybrid.mrr > max(dense.mrr, lexical.mrr), report


async def test_niche_resolution_quality(demo_settings: Settings) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    metrics = await evaluate_niches(kb, load_queries("niche_queries.yaml"))
    assert metrics.accuracy >= 0.96, "\n".join(metrics.misses)
    assert metrics.confident_wrong <= 1, "\n".join(metrics.misses)
    assert metrics.in_shortlist >= 0.97
