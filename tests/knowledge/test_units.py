"""Unit level: rank fusion, score fusion, text normalisation, translit, spelling."""

from __future__ import annotations

import pytest

from backend.knowledge.hybrid import normalise, rrf, weighted_sum
from backend.knowledge.normalize import document_words, is_english, stems, to_cyrillic, translit_word
from backend.knowledge.spelling import Speller


def test_rrf_rewards_agreement_over_one_first_place() -> None:
    fused = rrf([["a", "b", "c"], ["b", "c", "a"]])
    assert [key for key, _ in fused] == ["b", "a", "c"]  # b: 1/62+1/61 beats a: 1/61+1/63
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_rrf_weights_and_k() -> None:
    assert [k for k, _ in rrf([["a", "b"], ["b", "a"]], weights=[1.0, 2.0])] == ["b", "a"]
    assert [k for k, _ in rrf([["a", "b"], ["b", "a"]], weights=[2.0, 1.0])] == ["a", "b"]
    # A key found by one ranking only still appears, after the ones both agree on.
    assert [k for k, _ in rrf([["a", "x"], ["a"]], k=1)] == ["a", "x"]
    assert rrf([["a"]], k=1) == [("a", 0.5)]


def test_rrf_ties_keep_first_seen_order_and_empty_input() -> None:
    assert [k for k, _ in rrf([["a", "b"], ["b", "a"]])] == ["a", "b"]
    assert rrf([]) == [] and rrf([[], []]) == []


def test_normalise_scales_to_unit_range() -> None:
    assert normalise([("a", 0.9), ("b", 0.7), ("c", 0.5)]) == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})
    assert normalise([("a", 8.0), ("b", 2.0)], floor=0.0) == pytest.approx({"a": 1.0, "b": 0.25})
    assert normalise([("a", 3.0), ("b", 3.0)]) == {"a": 1.0, "b": 1.0}
    assert normalise([]) == {}


def test_weighted_sum_lets_a_clear_lexical_winner_through() -> None:
    dense = normalise([("near", 0.71), ("right", 0.70), ("far", 0.50)])
    lexical = normalise([("right", 12.0), ("near", 1.0)], floor=0.0)
    fused = weighted_sum([dense, lexical], [0.5, 0.5])
    assert [key for key, _ in fused] == ["right", "near", "far"]
    assert fused[0][1] == pytest.approx(0.5 * (0.20 / 0.21) + 0.5)
    with pytest.raises(ValueError):
        weighted_sum([dense], [0.5, 0.5])


@pytest.mark.parametrize(
    ("typed", "cyrillic"),
    [
        ("kak vernut dengi", "как вернут денги"),
        ("Skolko STOIT?", "сколко стоит"),
        ("zabyl parol", "забыл парол"),
        ("integraciya s bitrix24", "интеграция с bitrix24"),
        ("как вернуть деньги", "как вернуть деньги"),
        ("how much does it cost", "how much does it cost"),  # English stays English
        ("интеграция с amocrm", "интеграция с amocrm"),  # a Latin brand in a Russian message
        ("Ёлки-палки", "елки палки"),
    ],
)
def test_to_cyrillic(typed: str, cyrillic: str) -> None:
    assert to_cyrillic(typed) == cyrillic


def test_english_is_told_from_translit_and_from_russian_with_a_latin_brand() -> None:
    assert is_english("do you have an english interface? my russian is bad")
    assert not is_english("kak oplatit podpisku")  # Russian typed in Latin letters
    assert not is_english("есть интеграция с amoCRM и Bitrix24?")


def test_translit_of_single_words() -> None:
    assert translit_word("shchetka") == "щетка"
    assert translit_word("novyy") == "новый"
    assert translit_word("telegram") == "телеграм"


def test_stems_match_across_declensions_and_translit() -> None:
    assert stems("по стоматологиям") == stems("стоматология")
    assert stems("kak oplatit") == stems("как оплатить")
    assert stems("и в на", keep_stop_words=True) and not stems("и в на")


def test_document_words_add_the_forms_visitors_type() -> None:
    words = document_words("Интеграция с Bitrix24 и Telegram, refund")
    assert {"bitrix24", "bitrix", "битрикс", "telegram", "телеграм", "refund", "рефунд"} <= set(words)
    assert document_words("152-ФЗ") == ["152", "фз"]


def test_speller_fixes_typos_only_against_the_vocabulary() -> None:
    speller = Speller(["возврат", "стоматология", "интеграция", "тариф", "тарифы", "оплата"])
    assert speller.correct("возрат") == "возврат"
    assert speller.correct("стамотология") == "стоматология"  # two edits in a long word
    assert speller.correct("интиграция") == "интеграция"
    assert speller.correct("тарифов") == "тарифов"  # the stem is known: an inflection, not a typo
    assert speller.correct("оплат") == "оплат"  # same stem as a known word
    assert speller.correct("кот") == "кот"  # too short to guess
    assert speller.correct("абракадабра") == "абракадабра"  # nothing close
    assert speller.correct("тарифф") == "тариф"
    assert speller.correct_all(["возрат", "денег"]) == ["возврат", "денег"]


def test_speller_remembers_words_per_vocabulary() -> None:
    """A word is corrected once per speller (messages differ, their words mostly do not); another
    vocabulary answers for itself."""
    speller = Speller(["возврат", "стоматология"])
    assert speller.correct_all(["возрат", "денег", "возрат"]) == ["возврат", "денег", "возврат"]
    assert speller.correct("возрат") == "возврат"
    assert speller._memo.cache_info().hits == 2 and speller._memo.cache_info().misses == 2
    assert Speller(["возраст"]).correct("возрат") == "возраст"


def test_speller_leaves_ambiguous_words_alone() -> None:
    speller = Speller(["корова", "ворона"])
    assert speller.correct("ворова") == "ворова"  # one edit from both
    assert speller.correct("коровва") == "корова"
    assert len(Speller([])) == 0 and Speller([]).correct("возрат") == "возрат"
