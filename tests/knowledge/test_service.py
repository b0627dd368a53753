"""Every tool function of ``KnowledgeBase`` against a real index (Chroma, USE, BM25)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from knowledge.support import FAQ_A, write

from backend.assistant.offline.niche_probe import signal_from
from backend.core.config import Settings
from backend.knowledge.exceptions import ArticleNotFound, IndexMissing
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase

FIXTURE_NICHES = {"Стоматологические клиники", "Натяжные потолки", "Автосервисы", "Ремонт квартир"}


async def test_faq_search_finds_by_meaning_translit_and_keywords(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    for query, expected in [
        ("как вернуть деньги", "901"),
        ("kak vernut dengi", "901"),
        ("refund за неиспользованные дни", "901"),
        ("хочу удалить аккаунт", "902"),
        ("интеграция с amocrm", "903"),
        ("заявки в битрикс", "903"),
    ]:
        hits = await kb.faq_search(query)
        assert hits and hits[0].article_id == expected, (query, hits)
    hit = (await kb.faq_search("возврат денег", 1))[0]
    assert hit.title == "Как вернуть деньги" and hit.meta_tags == ["billing", "test"] and 0 < hit.score <= 1


async def test_faq_search_modes_and_bounds(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    for mode in ("dense", "lexical", "hybrid"):
        assert (await kb.faq_search("вернуть деньги", 3, mode=mode))[0].article_id == "901"
    assert len(await kb.faq_search("аккаунт", 0)) == 1
    assert len(await kb.faq_search("аккаунт деньги crm", 100)) == 3  # the corpus holds three
    scores = [h.score for h in await kb.faq_search("аккаунт деньги crm", 3)]
    assert scores == sorted(scores, reverse=True)


async def test_faq_search_excludes_the_last_article(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    hits = await kb.faq_search("как вернуть деньги", 5, last_article_id="901")
    assert hits and "901" not in [h.article_id for h in hits]
    assert len(await kb.faq_search("как вернуть деньги", 2, last_article_id="901")) == 2


async def test_faq_get_by_id(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    record = await kb.faq_get_by_id(" 901 ")
    assert record.title == "Как вернуть деньги" and "Возврат приходит" in record.text
    assert record.source.endswith("refunds.md:1")
    with pytest.raises(ArticleNotFound) as info:
        await kb.faq_get_by_id("999")
    assert info.value.status_code == 404 and info.value.error_code == "ARTICLE_NOT_FOUND"


async def test_faq_get_by_id_falls_back_to_newer_corpus_files(own_index: Callable[..., Settings]) -> None:
    settings = own_index()
    build_index(settings)
    kb = await KnowledgeBase.open(settings)
    write(settings.FAQ_CORPUS_DIR / "new.md", FAQ_A.replace('"1"', '"950"'))  # not indexed yet
    assert not [h for h in await kb.faq_search("вернуть деньги", 5) if h.article_id == "950"]
    assert (await kb.faq_get_by_id("950")).title == "Как вернуть деньги"
    with pytest.raises(ArticleNotFound):
        await kb.faq_get_by_id("951")


async def test_resolve_niche_confident(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    for text, method in [
        ("Стоматологические клиники", "exact"),
        ("клиники стоматологические", "exact"),
        ("покажи аналитику по стоматологии", "exact"),
        ("потолки", "exact"),
        ("натяжные патолки", "exact"),  # spell-corrected
        ("натяжных потолков аналитика в москве", "fuzzy"),
    ]:
        resolution = await kb.resolve_niche(text)
        assert resolution.niche is not None and resolution.method == method, (text, resolution)
        assert not resolution.candidates
    assert (await kb.resolve_niche("ремонт автомобилей")).niche == "Автосервисы"


async def test_resolve_niche_shortlist_when_unsure(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    resolution = await kb.resolve_niche("ремонт", show=3)
    assert resolution.niche is None and resolution.show == 3
    names = [c.niche for c in resolution.candidates]
    assert {"Ремонт квартир", "Автосервисы"} <= set(names) and set(names) <= FIXTURE_NICHES
    empty = await kb.resolve_niche("покажи аналитику по нише")
    assert empty.niche is None and empty.candidates == []
    assert (await kb.resolve_niche("x", show=100)).show == 25


async def test_analytics_get_by_niche(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    found = await kb.analytics_get_by_niche("по стоматологиям")
    assert found.niche == "Стоматологические клиники" and found.category == "Медицина"
    assert found.table is not None and found.table.columns == ["Показатель", "Значение"]
    assert ["Заявок в месяц", "1200"] in found.table.rows and found.analytics and "|" not in found.analytics
    assert found.candidates == []
    unsure = await kb.analytics_get_by_niche("ремонт")
    assert unsure.niche is None and unsure.table is None and unsure.analytics is None
    assert 1 <= len(unsure.candidates) <= 5


async def test_analytics_titles_search(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    hits = await kb.analytics_titles_search("стоматология")
    assert hits[0].niche == "Стоматологические клиники" and hits[0].score == 1.0
    assert len({h.niche for h in hits}) == len(hits) <= 4
    assert len(await kb.analytics_titles_search("ремонт", 1)) == 3  # at least 3 when there are
    assert {h.niche for h in await kb.analytics_titles_search("ремонт", 25)} <= FIXTURE_NICHES


async def test_analytics_search_reads_the_analytics_text(kb_settings: Settings) -> None:
    kb = await KnowledgeBase.open(kb_settings)
    hits = await kb.analytics_search("где пик спроса весной и летом", 2)
    assert hits and hits[0].niche == "Натяжные потолки" and len(hits) <= 2
    assert len(await kb.analytics_search("конкуренция", 0)) == 1


async def test_analytics_titles_random_bounds(kb_settings: Settings, demo_settings: Settings) -> None:
    small = await KnowledgeBase.open(kb_settings)
    assert sorted(await small.analytics_titles_random(10)) == sorted(FIXTURE_NICHES)  # never more than exist
    demo = await KnowledgeBase.open(demo_settings)
    for asked, given in [(1, 5), (5, 5), (7, 7), (30, 30), (1000, 30)]:
        titles = await demo.analytics_titles_random(asked)
        assert len(titles) == len(set(titles)) == given
    all_titles = {r.niche for r in demo._current().niches}
    assert set(await demo.analytics_titles_random(30)) <= all_titles


async def test_title_beats_another_niches_alias(demo_settings: Settings) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    assert (await kb.resolve_niche("барбершопы")).niche == "Барбершопы"  # also an alias of Парикмахерские
    assert (await kb.resolve_niche("парикмахерская")).niche == "Парикмахерские"


async def test_health_check_and_missing_index(kb_settings: Settings, own_index: Callable[..., Settings]) -> None:
    await (await KnowledgeBase.open(kb_settings)).health_check()
    with pytest.raises(IndexMissing) as info:
        await KnowledgeBase.open(own_index())
    assert info.value.status_code == 503 and "scripts.reindex" in info.value.detail


async def test_resolver_rules_on_the_demo_niches(demo_settings: Settings) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    cases = {
        "ремонт квартир в казани": ("Ремонт квартир", "fuzzy"),  # a contained title, one word to spare
        "детская стоматология в москве": ("Детская стоматология", "fuzzy"),
        "клиники стоматологические": ("Стоматологические клиники", "exact"),  # any word order
        "ветеренарные клиники": ("Ветеринарные клиники", "exact"),  # spell-corrected
    }
    for text, (niche, method) in cases.items():
        resolution = await kb.resolve_niche(text)
        assert (resolution.niche, resolution.method) == (niche, method), text
    # A qualifier that names another niche is not "spare": no confident answer, a shortlist.
    unsure = await kb.resolve_niche("стоматология имплантация")
    assert unsure.niche is None
    assert {"Стоматологические клиники", "Имплантация зубов"} <= {c.niche for c in unsure.candidates[:5]}


async def test_niche_mention_is_what_the_niche_probe_keeps_of_a_resolution(demo_settings: Settings) -> None:
    """``niche_mention`` skips the ranking of a message with no word alike a niche title; the probe's
    signal is the same as from the full resolution, for messages of every scenario."""
    kb = await KnowledgeBase.open(demo_settings)
    texts = [
        "сколько стоят ваши тарифы?",
        "есть интеграция с amoCRM?",
        "как вы заменяете некачественные заявки",
        "какой спрос на натяжные потолки",
        "средний чек в нише грузоперевозки",
        "покажи аналитику по стоматологии",
        "зубные клиники",  # an alias: no title word in it
        "думаю заходить в септики, какой спрос",
        "ремонт",
        "статистика по клинингу 17",
    ]
    for text in texts:
        full = signal_from(text, await kb.resolve_niche(text))
        assert signal_from(text, await kb.niche_mention(text)) == full, text
    skipped = await kb.niche_mention("сколько стоят ваши тарифы?")
    assert skipped.niche is None and skipped.candidates == []  # not ranked
    full = await kb.resolve_niche("сколько стоят ваши тарифы?")
    assert full.niche or full.candidates  # the full resolution ranks it
    assert signal_from("какой спрос на натяжные потолки", await kb.niche_mention("какой спрос на натяжные потолки"))
