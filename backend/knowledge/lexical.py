"""BM25 over stemmed Russian text (bm25s + PyStemmer), persisted next to the vector data.

Chroma's sparse/BM25 search is Cloud-only, so the lexical half of hybrid retrieval runs here.
Documents are indexed with the forms visitors type for their Latin terms (``document_words``);
query words the corpus never uses are spell-corrected against the corpus vocabulary first.
"""

from __future__ import annotations

import json
from pathlib import Path

import bm25s

from backend.knowledge.normalize import document_words, stems_of, to_cyrillic
from backend.knowledge.spelling import Speller

WORDS_FILE = "words.json"


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25, size: int, speller: Speller | None = None) -> None:
        self._retriever = retriever
        self._size = size
        self.speller = speller or Speller([])

    @classmethod
    def build(cls, documents: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25()
        words = [document_words(doc) for doc in documents]
        retriever.index([stems_of(w) or ["_"] for w in words], show_progress=False)
        return cls(retriever, len(documents), Speller(w for doc in words for w in doc))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory))
        (directory / WORDS_FILE).write_text(json.dumps(self.speller.words, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path, size: int) -> LexicalIndex:
        words_file = directory / WORDS_FILE
        words = json.loads(words_file.read_text("utf-8")) if words_file.exists() else []
        return cls(bm25s.BM25.load(str(directory)), size, Speller(words))

    def query_tokens(self, query: str) -> list[str]:
        return stems_of(self.speller.correct_all(to_cyrillic(query).split()))

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        tokens = self.query_tokens(query)
        if not tokens or self._size == 0:
            return []
        docs, scores = self._retriever.retrieve([tokens], k=min(k, self._size), show_progress=False)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
