"""Parses the corpus format of SPEC section 2: Markdown files, each holding one or more records of
YAML front matter (between lines that are exactly ``---``) followed by a Markdown body.

Every problem is reported as ``CorpusError`` with ``file:line``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from backend.knowledge.exceptions import CorpusError
from backend.knowledge.schemas import FaqRecord, NicheRecord, Table

DELIMITER = "---"
_SEPARATOR_ROW = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


@dataclass
class RawRecord:
    path: Path
    line: int  # line of the opening ``---``
    meta: dict[str, Any]
    body: str
    body_line: int


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(path, line, "the file is not valid UTF-8") from exc


def split_records(path: Path) -> Iterator[RawRecord]:
    lines = _read(path).splitlines()
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines):
        raise CorpusError(path, 1, "the file holds no record")
    while i < len(lines):
        if lines[i] != DELIMITER:
            raise CorpusError(path, i + 1, "expected a front-matter block opening with a line that is exactly ---")
        start = i
        i += 1
        while i < len(lines) and lines[i] != DELIMITER:
            i += 1
        if i == len(lines):
            raise CorpusError(path, start + 1, "front matter is not closed by a line that is exactly ---")
        try:
            meta = yaml.safe_load("\n".join(lines[start + 1 : i])) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = start + 2 + (mark.line if mark is not None else 0)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise CorpusError(path, line, f"invalid YAML: {problem}") from exc
        if not isinstance(meta, dict):
            raise CorpusError(path, start + 2, "front matter must be a YAML mapping (key: value)")
        i += 1
        body_start = i
        while i < len(lines) and lines[i] != DELIMITER:
            i += 1
        yield RawRecord(path, start + 1, meta, "\n".join(lines[body_start:i]).strip(), body_start + 1)


def _text(record: RawRecord, key: str, *, digits: bool = False) -> str:
    value = record.meta.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CorpusError(record.path, record.line, f"missing required key '{key}'")
    if not isinstance(value, str | int):
        raise CorpusError(record.path, record.line, f"'{key}' must be a string")
    text = str(value).strip()
    if digits and not text.isdigit():
        raise CorpusError(record.path, record.line, f"'{key}' must be a string of digits, got {text!r}")
    return text


def _string_list(record: RawRecord, key: str) -> list[str]:
    value = record.meta.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise CorpusError(record.path, record.line, f"'{key}' must be a list of strings or a string")


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise CorpusError(directory, 0, "corpus directory not found")
    files = sorted(p for p in directory.rglob("*.md") if p.is_file())
    if not files:
        raise CorpusError(directory, 0, "no .md files in the corpus directory")
    return files


def parse_faq(directory: Path) -> list[FaqRecord]:
    records: list[FaqRecord] = []
    seen: dict[str, str] = {}
    for path in _files(directory):
        for raw in split_records(path):
            article_id = _text(raw, "article_id", digits=True)
            where = f"{path}:{raw.line}"
            if article_id in seen:
                raise CorpusError(path, raw.line, f"duplicate article_id {article_id!r} (first at {seen[article_id]})")
            seen[article_id] = where
            records.append(
                FaqRecord(
                    article_id=article_id,
                    title=_text(raw, "title"),
                    summary=_text(raw, "summary"),
                    tags=_string_list(raw, "tags"),
                    meta_tags=_string_list(raw, "meta_tags"),
                    text=raw.body,
                    source=where,
                )
            )
    return records


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def split_table(raw: RawRecord) -> tuple[str, Table]:
    """The record's one pipe table, and the analytics text around it."""
    lines = raw.body.splitlines()
    tables: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) and _SEPARATOR_ROW.match(lines[i + 1].strip()):
            start = i
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1
            tables.append((start, i))
        else:
            i += 1
    if len(tables) != 1:
        what = "no table" if not tables else f"{len(tables)} tables"
        raise CorpusError(raw.path, raw.line, f"a niche must have exactly one pipe table, found {what}")
    start, end = tables[0]
    columns = _cells(lines[start])
    rows = [_cells(line) for line in lines[start + 2 : end]]
    for offset, row in enumerate(rows):
        if len(row) != len(columns):
            line_no = raw.body_line + start + 2 + offset
            raise CorpusError(raw.path, line_no, f"table row has {len(row)} cells, the header has {len(columns)}")
    text = "\n".join(lines[:start] + lines[end:]).strip()
    return text, Table(columns=columns, rows=rows)


def parse_analytics(directory: Path) -> list[NicheRecord]:
    records: list[NicheRecord] = []
    seen: dict[str, str] = {}
    for path in _files(directory):
        for raw in split_records(path):
            niche = _text(raw, "niche")
            key = niche.casefold()
            where = f"{path}:{raw.line}"
            if key in seen:
                raise CorpusError(path, raw.line, f"duplicate niche {niche!r} (first at {seen[key]})")
            seen[key] = where
            text, table = split_table(raw)
            category = raw.meta.get("category")
            records.append(
                NicheRecord(
                    niche=niche,
                    aliases=_string_list(raw, "aliases"),
                    category=str(category).strip() if category else None,
                    analytics=text,
                    table=table,
                    source=where,
                )
            )
    return records
