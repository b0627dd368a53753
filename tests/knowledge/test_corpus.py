"""Corpus parsing (SPEC section 2): every kind of malformed record is reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from knowledge.support import DEMO_ANALYTICS_DIR, DEMO_FAQ_DIR, FAQ_A, NICHE_A, write

from backend.knowledge.corpus import parse_analytics, parse_faq
from backend.knowledge.exceptions import CorpusError


def faq_error(directory: Path) -> CorpusError:
    with pytest.raises(CorpusError) as info:
        parse_faq(directory)
    return info.value


def niche_error(directory: Path) -> CorpusError:
    with pytest.raises(CorpusError) as info:
        parse_analytics(directory)
    return info.value


def test_demo_corpora_parse() -> None:
    faq = parse_faq(DEMO_FAQ_DIR)
    niches = parse_analytics(DEMO_ANALYTICS_DIR)
    assert len(faq) == 32 and {r.article_id for r in faq} >= {"101", "174"}
    assert len(niches) == 449
    assert all(r.table.columns and r.table.rows for r in niches)
    assert all(r.source.split(":")[-1].isdigit() for r in faq + niches)  # source is file:line


def test_valid_records_and_optional_keys(tmp_path: Path) -> None:
    write(
        tmp_path / "a.md",
        FAQ_A
        + """\
---
article_id: 2
title: Тарифы
summary: Три тарифа.
tags: тарифы
meta_tags: billing
---
Текст.
""",
    )
    first, second = parse_faq(tmp_path)
    assert first.article_id == "1" and first.tags == ["возврат", "деньги"] and first.meta_tags == []
    assert first.text == "Напишите в поддержку, и мы вернём деньги на карту."
    assert second.article_id == "2" and second.tags == ["тарифы"] and second.meta_tags == ["billing"]
    assert second.source == f"{tmp_path / 'a.md'}:8"
    (niche,) = parse_analytics(write(tmp_path / "n" / "n.md", NICHE_A).parent)
    assert niche.niche == "Натяжные потолки" and niche.aliases == ["потолки"] and niche.category == "Ремонт"
    assert niche.table.columns == ["Показатель", "Значение"] and niche.table.rows == [["Заявок в месяц", "800"]]
    assert niche.analytics == "Пик спроса весной."


@pytest.mark.parametrize("key", ["article_id", "title", "summary"])
def test_missing_required_faq_key(tmp_path: Path, key: str) -> None:
    lines = [line for line in FAQ_A.splitlines() if not line.startswith(f"{key}:")]
    path = write(tmp_path / "faq.md", "\n\n" + "\n".join(lines) + "\n")
    error = faq_error(tmp_path)
    assert (error.path, error.line) == (str(path), 3)
    assert f"missing required key '{key}'" in error.message
    assert str(error.detail).startswith(f"{path}:3: ")


def test_missing_niche_key(tmp_path: Path) -> None:
    path = write(tmp_path / "n.md", NICHE_A.replace("niche: Натяжные потолки\n", ""))
    error = niche_error(tmp_path)
    assert (error.path, error.line, error.message) == (str(path), 1, "missing required key 'niche'")


def test_article_id_must_be_digits(tmp_path: Path) -> None:
    write(tmp_path / "faq.md", FAQ_A.replace('article_id: "1"', "article_id: A-1"))
    assert "string of digits" in faq_error(tmp_path).message


def test_duplicate_article_id_names_both_places(tmp_path: Path) -> None:
    first = write(tmp_path / "a.md", FAQ_A)
    second = write(tmp_path / "b.md", "\n" + FAQ_A.replace("Как вернуть деньги", "Другое"))
    error = faq_error(tmp_path)
    assert (error.path, error.line) == (str(second), 2)
    assert "duplicate article_id '1'" in error.message and f"{first}:1" in error.message


def test_duplicate_niche_is_case_insensitive(tmp_path: Path) -> None:
    path = write(tmp_path / "n.md", NICHE_A + NICHE_A.replace("niche: Натяжные потолки", "niche: натяжные ПОТОЛКИ"))
    error = niche_error(tmp_path)
    assert (error.path, error.line) == (str(path), 11)
    assert "duplicate niche 'натяжные ПОТОЛКИ'" in error.message and f"{path}:1" in error.message


def test_niche_without_table(tmp_path: Path) -> None:
    path = write(tmp_path / "n.md", NICHE_A + "---\nniche: Окна\n---\nТолько текст.\n")
    error = niche_error(tmp_path)
    assert (error.path, error.line) == (str(path), 11)
    assert "exactly one pipe table, found no table" in error.message


def test_niche_with_two_tables(tmp_path: Path) -> None:
    second = "\nЕщё таблица:\n\n| A | B |\n|---|---|\n| 1 | 2 |\n"
    path = write(tmp_path / "n.md", NICHE_A + second)
    error = niche_error(tmp_path)
    assert (error.path, error.line) == (str(path), 1)
    assert "found 2 tables" in error.message


def test_table_row_with_wrong_cell_count(tmp_path: Path) -> None:
    path = write(tmp_path / "n.md", NICHE_A + "| Средний чек | 5 000 | лишняя |\n")
    error = niche_error(tmp_path)
    assert (error.path, error.line) == (str(path), 11)
    assert "3 cells, the header has 2" in error.message


def test_bad_yaml_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.md", FAQ_A.replace("tags: [возврат, деньги]", "tags: [возврат, деньги"))
    error = faq_error(tmp_path)
    assert error.path == str(path) and error.message.startswith("invalid YAML")
    assert 2 <= error.line <= 6  # inside the front matter


def test_front_matter_that_is_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "faq.md", "---\n- a\n- b\n---\nтекст\n")
    error = faq_error(tmp_path)
    assert (error.line, error.message) == (2, "front matter must be a YAML mapping (key: value)")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.md", FAQ_A.replace("Напишите", "Пишите"), encoding="cp1251")
    error = faq_error(tmp_path)
    assert (error.path, error.line) == (str(path), 3)  # the first non-ASCII byte is on line 3
    assert "not valid UTF-8" in error.message


def test_text_before_the_first_front_matter(tmp_path: Path) -> None:
    write(tmp_path / "faq.md", "# Заголовок\n" + FAQ_A)
    error = faq_error(tmp_path)
    assert error.line == 1 and "exactly ---" in error.message


def test_dashes_with_trailing_space_do_not_open_front_matter(tmp_path: Path) -> None:
    write(tmp_path / "faq.md", FAQ_A.replace("---\narticle_id", "--- \narticle_id", 1))
    assert faq_error(tmp_path).line == 1


def test_horizontal_rule_in_a_body_is_reported(tmp_path: Path) -> None:
    """A body line that is exactly --- starts a new front matter; unclosed, it is an error there."""
    path = write(tmp_path / "faq.md", FAQ_A + "\n---\n\nПосле черты.\n")
    error = faq_error(tmp_path)
    assert (error.path, error.line) == (str(path), 9)
    assert "not closed" in error.message


def test_horizontal_rule_between_records_is_reported(tmp_path: Path) -> None:
    body_rule = FAQ_A + "---\nПосле черты.\n" + FAQ_A.replace('"1"', '"2"')
    path = write(tmp_path / "faq.md", body_rule)
    error = faq_error(tmp_path)
    # The rule on line 8 opened a "front matter" holding the body text of line 9.
    assert (error.path, error.line) == (str(path), 9)
    assert "must be a YAML mapping" in error.message


def test_empty_file_and_missing_directory(tmp_path: Path) -> None:
    write(tmp_path / "faq.md", "\n\n")
    assert faq_error(tmp_path).message == "the file holds no record"
    assert faq_error(tmp_path / "absent").message == "corpus directory not found"
    (tmp_path / "empty").mkdir()
    assert faq_error(tmp_path / "empty").message == "no .md files in the corpus directory"
