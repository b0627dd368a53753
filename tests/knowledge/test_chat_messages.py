"""Whole chat messages, not short queries: filler and request words around a niche, chat slang."""

from __future__ import annotations

import pytest

from backend.core.config import Settings
from backend.knowledge.service import KnowledgeBase


@pytest.mark.parametrize(
    ("message", "niche"),
    [
        ("хочу глянуть стату по натяжным потолкам плз", "Натяжные потолки"),
        ("что скажешь про спрос на грузоперевозки за последний год", "Грузоперевозки"),
        ("думаю открывать автосервис, какая там динамика вообще", "Автосервисы"),
    ],
)
async def test_a_niche_inside_a_chat_message_is_resolved(demo_settings: Settings, message: str, niche: str) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    try:
        resolution = await kb.resolve_niche(message)
    finally:
        await kb.aclose()
    assert resolution.niche == niche, [c.niche for c in resolution.candidates]


async def test_two_niches_named_give_a_shortlist_not_a_guess(demo_settings: Settings) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    try:
        resolution = await kb.resolve_niche("сравни натяжные потолки и грузоперевозки")
    finally:
        await kb.aclose()
    assert resolution.niche is None
    assert {"Натяжные потолки", "Грузоперевозки"} <= {c.niche for c in resolution.candidates}


async def test_chat_slang_reaches_the_right_article(demo_settings: Settings) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    try:
        hits = await kb.faq_search("заявки можно получать в телегу?", n_results=3)
    finally:
        await kb.aclose()
    assert "142" in [h.article_id for h in hits]  # "Каналы доставки заявок" (Telegram)
