"""Finds a city in free text for the offline path of the funnel (declensions, aliases, typos)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import Stemmer
from rapidfuzz import fuzz

_WORD = re.compile(r"[a-zа-яё0-9]+", re.IGNORECASE)
_stemmer = Stemmer.Stemmer("russian")


def _words(text: str) -> list[str]:
    return [w.replace("ё", "е") for w in _WORD.findall(text.lower())]


def _stems(words: list[str]) -> tuple[str, ...]:
    return tuple(_stemmer.stemWords(words))


@dataclass(frozen=True)
class CityMatch:
    city: str
    start: int  # word span in the text, to cut the city out before resolving the niche
    end: int


class CityFinder:
    def __init__(self, path: Path) -> None:
        self._names: dict[tuple[str, ...], str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, _, aliases = line.partition("|")
            canonical = name.strip()
            for variant in [canonical, *aliases.split(",")]:
                words = _words(variant)
                if words:
                    self._names[_stems(words)] = canonical
        self._max_len = max(len(key) for key in self._names)

    def find(self, text: str) -> CityMatch | None:
        words = _words(text)
        stems = _stems(words)
        for size in range(min(self._max_len, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                key = stems[start : start + size]
                if key in self._names:
                    return CityMatch(self._names[key], start, start + size)
        for start, word in enumerate(words):  # one typo in a long single-word name: "Новосибирк"
            if len(word) < 6:
                continue
            for key, city in self._names.items():
                if len(key) == 1 and fuzz.ratio(stems[start], key[0]) >= 88:
                    return CityMatch(city, start, start + 1)
        return None

    @staticmethod
    def remove(text: str, match: CityMatch) -> str:
        words = _words(text)
        return " ".join(words[: match.start] + words[match.end :])
