"""BM25 over stemmed Russian text (bm25s + PyStemmer), persisted next to the vector data.

Chroma's sparse/BM25 search is Cloud-only, so the lexical half of hybrid retrieval runs here.
"""

from __future__ import annotations

from pathlib import Path

import bm25s

from backend.knowledge.normalize import stems


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25, size: int) -> None:
        self._retriever = retriever
        self._size = size

    @classmethod
    def build(cls, documents: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25()
        retriever.index([stems(doc) or ["_"] for doc in documents], show_progress=False)
        return cls(retriever, len(documents))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory))

    @classmethod
    def load(cls, directory: Path, size: int) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(directory)), size)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        tokens = stems(query)
        if not tokens or self._size == 0:
            return []
        docs, scores = self._retriever.retrieve([tokens], k=min(k, self._size), show_progress=False)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
