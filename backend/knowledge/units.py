"""The text units each record is indexed as: several dense vectors per record (title, summary,
body chunks) pooled back to the record, and one field-weighted lexical document per record."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backend.knowledge.lexical import with_phrases
from backend.knowledge.schemas import FaqRecord, NicheRecord

CHUNK_CHARS = 600
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Unit:
    id: str
    key: str  # the record it belongs to: article_id or niche title
    kind: str
    text: str


def _chunks(text: str) -> list[str]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    current = ""
    for paragraph in paragraphs:
        if current and len(current) + len(paragraph) > CHUNK_CHARS:
            chunks.append(current)
            current = ""
        current = f"{current}\n{paragraph}".strip()
    if current:
        chunks.append(current)
    return chunks


def sentences(text: str) -> list[str]:
    """The text's sentences, headings, tables and list markers dropped."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*•0123456789.) ").strip()
        if line and not line.startswith(("#", "|", "_")):
            found.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return list(dict.fromkeys(found))


def faq_units(record: FaqRecord) -> list[Unit]:
    tags = ", ".join(record.tags)
    units = [
        Unit(f"{record.article_id}:title", record.article_id, "title", f"{record.title}. {tags}".strip(". ")),
        Unit(f"{record.article_id}:summary", record.article_id, "summary", f"{record.title}. {record.summary}"),
    ]
    for n, chunk in enumerate(_chunks(record.text)):
        units.append(Unit(f"{record.article_id}:body:{n}", record.article_id, "body", chunk))
    return units


def faq_lexical_document(record: FaqRecord) -> str:
    tags = " ".join(record.tags)
    text = " ".join([record.title] * 3 + [record.summary] * 2 + [tags] * 2 + [record.text])
    return with_phrases(text, [record.title, *record.tags])  # a title or tag named whole weighs more


def niche_units(index: int, record: NicheRecord) -> list[Unit]:
    units = [Unit(f"n{index}:title", record.niche, "title", record.niche)]
    units += [Unit(f"n{index}:alias:{k}", record.niche, "alias", alias) for k, alias in enumerate(record.aliases)]
    first = _chunks(record.analytics)[:1]
    units += (
        [Unit(f"n{index}:text", record.niche, "text", f"{record.niche}. {first[0][:CHUNK_CHARS]}")] if first else []
    )
    return units


def niche_lexical_document(record: NicheRecord) -> str:
    names = " ".join([record.niche, *record.aliases])
    return " ".join([names] * 3 + [record.category or "", record.analytics])


def record_hash_text(record: FaqRecord | NicheRecord) -> str:
    return record.model_dump_json(exclude={"source"})
