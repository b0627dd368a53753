"""Typo tolerance against a corpus vocabulary: a query word the corpus never uses is replaced by
the one corpus word within a small edit distance ("возрат" → "возврат", "стамотология" →
"стоматология"). Words whose stem the corpus knows are left alone, so inflected forms never move."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from backend.knowledge.normalize import STOP_WORDS, stem

MIN_LENGTH = 5  # shorter words are too easy to confuse with other short words
# Words remembered per speller: visitors' messages differ, their words mostly do not, and each unknown
# word costs a fuzzy pass over the vocabulary (BENCHMARKS.md, "Turn cost", fourth round).
MEMO_WORDS = 4096


def max_edits(word: str) -> int:
    if len(word) < MIN_LENGTH:
        return 0
    return 1 if len(word) < 8 else 2


class Speller:
    def __init__(self, words: Iterable[str]) -> None:
        self.words = sorted({w for w in words if len(w) >= MIN_LENGTH - 1 and not w.isdigit()})
        self._known = frozenset(self.words)
        self._stems = frozenset(stem(w) for w in self.words)
        # Per instance (the vocabulary decides the answer); lru_cache is thread-safe.
        self._memo = functools.lru_cache(maxsize=MEMO_WORDS)(self._correct)

    def __len__(self) -> int:
        return len(self.words)

    def correct(self, word: str) -> str:
        """The corpus word meant by ``word``, or ``word`` itself when unknown or ambiguous."""
        answer: str = self._memo(word)
        return answer

    def _correct(self, word: str) -> str:
        limit = max_edits(word)
        if not limit or word in self._known or word in STOP_WORDS or word.isdigit() or stem(word) in self._stems:
            return word
        found = process.extract(word, self.words, scorer=Levenshtein.distance, score_cutoff=limit, limit=3)
        if not found:
            return word
        best = found[0][1]
        closest = {stem(w) for w, d, _ in found if d == best}
        return found[0][0] if len(closest) == 1 else word  # two different words equally close: leave it

    def correct_all(self, words: Iterable[str]) -> list[str]:
        memo = self._memo
        return [memo(w) for w in words]
