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


@pytest.mark.parametrize(
    "text",
    [
        "это не то",
        "Нет, я не об этом",
        "вы меня не поняли",
        "мимо",
        "неправильно",
        "ответ не по теме",
        "eto ne tot otvet",
    ],
)
def test_saying_the_answer_missed_is_a_miss(text: str) -> None:
    assert read_cues(text).missed


@pytest.mark.parametrize(
    "text",
    [
        "нет",  # a plain no answers an offer
        "не понял",  # the answer was unclear, not wrong: more of it helps
        "вопросов нет",
        "не надо",
        "это не то, я про возврат денег",  # names its subject: a question of its own
        "а другое есть?",
        "мне это не нужно",  # declines an offer
        "а в другом городе?",  # asks about another one
    ],
)
def test_a_no_or_a_subject_of_its_own_is_not_a_miss(text: str) -> None:
    assert not read_cues(text).missed


@pytest.mark.parametrize(
    "text", ["не понял", "Можно попроще?", "ничего не ясно", "объясните другими словами", "ne ponyal"]
)
def test_not_understanding_the_answer_is_unclear(text: str) -> None:
    cues = read_cues(text)
    assert cues.unclear and not cues.missed


@pytest.mark.parametrize(
    "text",
    [
        "понятно",  # understood
        "ок, понял",
        "вы меня не поняли",  # a miss, not an unclear answer
        "не понял, а сколько стоит доступ?",  # a question of its own
        "а это сложно?",  # asks whether something is hard
    ],
)
def test_understanding_or_a_question_of_its_own_is_not_unclear(text: str) -> None:
    assert not read_cues(text).unclear
