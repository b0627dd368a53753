"""Routing and answers follow the operator's corpus: after a reindex to another corpus, what is in
the domain changes with no code change (the router asks the live index, not a word list).

A small corpus of a fictional fertiliser supplier is written here; its questions mean nothing to
the demo corpus. The same messages go through the real offline model and tool loop (the turn
engine) on each index.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from backend.assistant.cities import CityFinder
from backend.assistant.context import Caller
from backend.assistant.engine import TurnEngine, TurnInput
from backend.assistant.factory import SCENARIO_DIR, build_offline_model, build_registry, visitor_texts
from backend.assistant.funnel import Funnel
from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase

FERTILISER_FAQ = """---
article_id: "901"
title: Минимальная партия удобрений
summary: Минимальный заказ удобрений — одна паллета (40 мешков по 25 кг), для карбамида — 5 тонн.
tags: [минимальная партия, опт, паллета]
---
Мы продаём удобрения только оптом. Минимальная партия — одна паллета: 40 мешков по 25 кг.
Для карбамида и аммиачной селитры минимальный заказ — 5 тонн, их отгружаем насыпью.
---
article_id: "902"
title: Сертификаты и паспорта качества
summary: К каждой партии удобрений прилагаем паспорт качества и декларацию соответствия.
tags: [сертификаты, паспорт качества, декларация]
---
Каждая партия удобрений сопровождается паспортом качества завода-изготовителя.
Декларации соответствия высылаем по запросу в течение одного рабочего дня.
---
article_id: "903"
title: Доставка удобрений в хозяйства
summary: Доставляем удобрения фурами до 20 тонн в любые районы области за 2–4 дня.
tags: [доставка, фура, сроки доставки]
---
Доставка удобрений идёт фурами грузоподъёмностью до 20 тонн. Срок — от 2 до 4 дней по области.
Разгрузку манипулятором согласуем заранее.
"""

FERTILISER_NICHES = """---
niche: Зерновые хозяйства
aliases: [выращивание пшеницы, зерновые]
category: Сельское хозяйство
---
Хозяйства, выращивающие пшеницу и ячмень, закупают удобрения весной и осенью.

| Показатель | Значение |
|---|---|
| Заявок в месяц | 120 |
"""

QUESTION = "какая минимальная партия удобрений для заказа?"
FIXTURES = ROOT_DIR / "tests" / "knowledge" / "fixtures"  # a small corpus of the demo service


async def _turn(kb: KnowledgeBase, settings: Settings, text: str) -> dict[str, Any]:
    offline = build_offline_model(kb, kb.encode_queries)
    engine = TurnEngine(
        model=offline,
        offline=offline,
        registry=build_registry(),
        funnel=Funnel(
            codes=None,  # type: ignore[arg-type]  # no funnel turn here
            mailer=None,  # type: ignore[arg-type]
            knowledge=kb,
            cities=CityFinder(SCENARIO_DIR / "cities.txt"),
            texts=visitor_texts(settings),
        ),
        knowledge=kb,
        scenario_dir=SCENARIO_DIR,
    )
    turn = TurnInput(
        text=text,
        sid="s",
        chat_session_id=uuid.uuid4(),
        caller=Caller(None),
        session_data={},
        accounts=None,  # type: ignore[arg-type]  # no funnel turn here
    )
    return (await engine.run(turn)).reply.model_dump(mode="json")


def _settings(var_dir: Path, faq: Path, niches: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, ENVIRONMENT="test", VAR_DIR=var_dir, FAQ_CORPUS_DIR=faq, ANALYTICS_CORPUS_DIR=niches
    )


@pytest.fixture(scope="module")
def fertiliser_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fertiliser")
    (root / "faq").mkdir()
    (root / "niches").mkdir()
    (root / "faq" / "faq.md").write_text(FERTILISER_FAQ, encoding="utf-8")
    (root / "niches" / "niches.md").write_text(FERTILISER_NICHES, encoding="utf-8")
    return root / "faq", root / "niches"


async def test_routing_follows_the_corpus_after_a_reindex(tmp_path: Path, fertiliser_corpus: tuple[Path, Path]) -> None:
    demo = _settings(tmp_path / "var", FIXTURES / "faq", FIXTURES / "analytics")
    build_index(demo)
    on_demo = await _turn(await KnowledgeBase.open(demo), demo, QUESTION)
    assert not (on_demo["scenario"] == "FAQ" and on_demo["action"] == "answer"), on_demo

    # The same VAR_DIR reindexed on another operator's corpus: a new generation, no code change.
    own = _settings(tmp_path / "var", *fertiliser_corpus)
    build_index(own)
    on_own = await _turn(await KnowledgeBase.open(own), own, QUESTION)
    assert on_own["scenario"] == "FAQ" and on_own["action"] == "answer", on_own
    assert on_own["sources"][0]["article_id"] == "901"
    assert "паллет" in on_own["reply"]


async def test_an_in_domain_question_the_faq_does_not_answer_gets_no_answer(
    tmp_path: Path, fertiliser_corpus: tuple[Path, Path]
) -> None:
    own = _settings(tmp_path / "var", *fertiliser_corpus)
    build_index(own)
    reply = await _turn(await KnowledgeBase.open(own), own, "у вас есть мобильное приложение для заказа с телефона?")
    assert reply["scenario"] in ("FAQ", "OFFTOPIC"), reply
    assert reply["sources"] == []
    if reply["scenario"] == "FAQ":
        assert reply["action"] == "no_answer"


async def test_a_price_question_the_faq_does_not_cover_is_no_small_talk(
    tmp_path: Path, fertiliser_corpus: tuple[Path, Path]
) -> None:
    """The fertiliser FAQ has no price article: the visitor hears "no answer" with the support
    contact, and the question does not count against the small-talk quota."""
    own = _settings(tmp_path / "var", *fertiliser_corpus)
    build_index(own)
    kb = await KnowledgeBase.open(own)
    for text in ("Сколько стоит тонна карбамида?", "А оплатить можно по счёту с НДС?"):
        reply = await _turn(kb, own, text)
        assert reply["scenario"] == "FAQ" and reply["action"] in ("answer", "no_answer"), reply
