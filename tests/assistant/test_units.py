"""Pieces of the assistant that need no knowledge base: contract, streaming, read_file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.assistant.contract import coerce_reply
from backend.assistant.loop import parse_answer
from backend.assistant.streaming import ReplyStreamExtractor, chunk_text
from backend.assistant.tools.read_file import PromptFileCache
from backend.core.config import ROOT_DIR


def test_contract_normalises_like_the_seed() -> None:
    reply = coerce_reply({"scenario": "faq", "action": "Answer", "reply": "Да.", "stage": 2, "fields": None})
    assert reply.scenario == "FAQ"
    assert reply.stage is None  # stage only in REGISTRATION
    assert reply.fields == {"action": "answer"}
    registration = coerce_reply({"scenario": "REGISTRATION", "action": "ask_code", "reply": "…", "stage": "1"})
    assert registration.stage == 1


@pytest.mark.parametrize(
    "raw",
    [
        {"scenario": "SALES", "action": "answer", "reply": "x"},
        {"scenario": "FAQ", "action": "answer", "reply": ""},
    ],
)
def test_contract_rejects_what_cannot_be_fixed(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        coerce_reply(raw)


def test_parse_answer_accepts_fenced_json_and_reports_errors() -> None:
    reply, error = parse_answer('```json\n{"scenario": "OFFTOPIC", "action": "answer", "reply": "Привет"}\n```')
    assert reply is not None and error is None
    assert parse_answer("not json at all")[1] == "no JSON object"
    assert parse_answer('{"scenario": "FAQ", "reply": ')[0] is None


def test_stream_extractor_releases_reply_text_across_chunk_boundaries() -> None:
    raw = (
        '{"scenario": "FAQ", "action": "answer", "reply": "Первая строка\\nвторая \\"цитата\\" \\u00e9", "fields": {}}'
    )
    extractor = ReplyStreamExtractor(frozenset({"FAQ"}))
    out = "".join(extractor.feed(raw[i : i + 5]) for i in range(0, len(raw), 5))
    assert out == 'Первая строка\nвторая "цитата" é'


def test_stream_extractor_holds_back_server_owned_scenarios() -> None:
    extractor = ReplyStreamExtractor(frozenset({"FAQ"}))
    assert extractor.feed('{"scenario": "REGISTRATION", "reply": "Код верный!"}') == ""


def test_chunk_text_keeps_all_text() -> None:
    text = "Слово " * 30
    assert "".join(chunk_text(text, 20)) == text


@pytest.fixture
def prompts(tmp_path: Path) -> PromptFileCache:
    directory = tmp_path / "scenario"
    directory.mkdir()
    for name in ("scenario_faq.md", "scenario_analytics.md"):
        (directory / name).write_text(f"# {name}", encoding="utf-8")
    (tmp_path / "secret.md").write_text("SECRET", encoding="utf-8")
    os.symlink(tmp_path / "secret.md", directory / "scenario_registration.md")
    return PromptFileCache(directory, max_entries=6)


@pytest.mark.parametrize(
    "path",
    [
        "../secret.md",
        "/etc/passwd",
        "scenario/../../secret.md",
        "scenario_registration.md",  # a symlink pointing out of the directory
        "scenario/other.md",
        str(ROOT_DIR / "scenario" / "scenario_faq.md"),
        "",
    ],
)
def test_read_file_refuses_everything_outside_the_allowlist(prompts: PromptFileCache, path: str) -> None:
    assert prompts.read(path) is None


def test_read_file_serves_allowlisted_files_and_notices_changes(prompts: PromptFileCache) -> None:
    assert prompts.read("scenario/scenario_faq.md") == "# scenario_faq.md"
    target = prompts.directory / "scenario_faq.md"
    target.write_text("# changed", encoding="utf-8")
    os.utime(target, (target.stat().st_atime, target.stat().st_mtime + 5))
    assert prompts.read("scenario_faq.md") == "# changed"
    assert len(prompts) == 1


def test_read_file_cache_holds_at_most_six_entries(tmp_path: Path) -> None:
    cache = PromptFileCache(ROOT_DIR / "scenario", max_entries=2)
    for name in ("scenario_faq.md", "scenario_analytics.md", "scenario_registration.md"):
        assert cache.read(name)
    assert len(cache) == 2
