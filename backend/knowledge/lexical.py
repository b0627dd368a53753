"""BM25 over stemmed Russian text (bm25s + PyStemmer), persisted next to the vector data.

Chroma's sparse/BM25 search is Cloud-only, so the lexical half of hybrid retrieval runs here.
Documents are indexed with the forms visitors type for their Latin terms (``document_words``);
query words the corpus never uses are spell-corrected against the corpus vocabulary first.

A document may end with *phrases* (a title, tags; see ``with_phrases``): each is also indexed as one
token, matched when the same words stand together in the query, or are all the query asks
("какие тарифы есть" names the tag "тарифы" whole, "сравнение тарифов" only in part), so a field the
query names exactly weighs more than scattered mentions of its words in a longer text.
"""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
from bm25s.selection import topk

from backend.knowledge.normalize import STOP_WORDS, document_words, stem, stems_of, to_cyrillic, translit_word
from backend.knowledge.spelling import Speller

WORDS_FILE = "words.json"
PHRASE_SEPARATOR = "\x1e"
MAX_PHRASE_WORDS = 4
PHRASE_WEIGHT = 2  # a phrase token counts this many times in the query (BM25 sums repeated query terms)


def with_phrases(text: str, phrases: list[str]) -> str:
    """A lexical document: ``text`` plus phrases also indexed whole."""
    return PHRASE_SEPARATOR.join([text, *(p.replace(PHRASE_SEPARATOR, " ") for p in phrases)])


def _phrase_token(words: list[str]) -> str:
    return "=" + "_".join(stem(w) for w in words)


def phrase_tokens(phrase: str) -> set[str]:
    """The whole-phrase tokens of a document phrase: its words with and without stop words (also
    with its Latin words read in Cyrillic)."""
    words = to_cyrillic(phrase).split()
    content = [w for w in words if w not in STOP_WORDS]
    if not content or len(words) > MAX_PHRASE_WORDS:
        return set()
    found = set()
    for variant in (words, content):
        found |= {_phrase_token(variant), _phrase_token([translit_word(w) if _latin(w) else w for w in variant])}
    return found


def _latin(word: str) -> bool:
    return word.isascii() and word.isalpha()


def query_phrase_tokens(words: list[str]) -> list[str]:
    """Tokens of every run of 2..``MAX_PHRASE_WORDS`` query words that is not only stop words, and
    of the query's words without stop words when they are few: a single word matches a phrase
    only when it is all the query asks ("какие тарифы есть" → "тарифы"), not inside a longer question."""
    found: list[str] = []
    for size in range(2, MAX_PHRASE_WORDS + 1):
        for i in range(len(words) - size + 1):
            run = words[i : i + size]
            if not all(w in STOP_WORDS for w in run):
                found.append(_phrase_token(run))
    content = [w for w in words if w not in STOP_WORDS]
    if 0 < len(content) <= MAX_PHRASE_WORDS:
        found.append(_phrase_token(content))
    return list(dict.fromkeys(found)) * PHRASE_WEIGHT


def _document_tokens(document: str) -> list[str]:
    text, *phrases = document.split(PHRASE_SEPARATOR)
    tokens = stems_of(document_words(text))
    for phrase in phrases:
        tokens.extend(sorted(phrase_tokens(phrase)))
    return tokens or ["_"]


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25, size: int, speller: Speller | None = None) -> None:
        self._retriever = retriever
        self._size = size
        self.speller = speller or Speller([])

    @classmethod
    def build(cls, documents: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25()
        retriever.index([_document_tokens(doc) for doc in documents], show_progress=False)
        words = (w for doc in documents for part in doc.split(PHRASE_SEPARATOR) for w in document_words(part))
        return cls(retriever, len(documents), Speller(words))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory))
        (directory / WORDS_FILE).write_text(json.dumps(self.speller.words, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path, size: int) -> LexicalIndex:
        words_file = directory / WORDS_FILE
        words = json.loads(words_file.read_text("utf-8")) if words_file.exists() else []
        return cls(bm25s.BM25.load(str(directory)), size, Speller(words))

    def query_tokens(self, query: str) -> list[str]:
        words = self.speller.correct_all(to_cyrillic(query).split())
        return stems_of(words) + query_phrase_tokens(words)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        tokens = self.query_tokens(query)
        if not tokens or self._size == 0:
            return []
        # What ``retrieve`` does for one query (the same scores and top-k selection, so the same hits in
        # the same order), without its batch machinery: half the CPU of a search of the FAQ index.
        scores, docs = topk(self._retriever.get_scores(tokens), min(k, self._size), sorted=True)
        return [(int(d), float(s)) for d, s in zip(docs, scores, strict=True) if s > 0]
