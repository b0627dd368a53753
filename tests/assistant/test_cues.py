"""The router's lexical cues that decide without the classifier."""

from __future__ import annotations

import pytest

from backend.assistant.offline.cues import read_cues


@pytest.mark.parametrize(
    "text",
    [
        "подробнее",
        "а как?",
        "А что ещё?",
        "а ещё?",
        "ну и?",
        "да, расскажите подробнее, пожалуйста",
        "объясни",
        "поясните",
    ],
)
def test_a_bare_follow_up_asks_for_more_of_the_current_article(text: str) -> None:
    assert read_cues(text).follow_up


@pytest.mark.parametrize(
    "text",
    [
        "а как вернуть деньги?",
        "и сколько стоит доступ?",
        "а что с документами для бухгалтерии?",
        "расскажи о тарифах",
        "как подключить crm",
    ],
)
def test_a_question_of_its_own_is_not_a_follow_up_whatever_its_first_words(text: str) -> None:
    assert not read_cues(text).follow_up
