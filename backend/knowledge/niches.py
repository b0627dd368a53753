"""``resolve_niche``: from what a visitor typed to one of the known niches, or a shortlist.

Steps: normalise (case, ё, punctuation, translit, stems) and drop the request words around the
niche; exact title or alias; fuzzy (rapidfuzz) over titles and aliases; semantic over title vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from backend.knowledge.hybrid import rrf
from backend.knowledge.normalize import STOP_WORDS, stem, to_cyrillic
from backend.knowledge.schemas import NicheHit, NicheRecord, NicheResolution

# Words people put around a niche name ("покажи аналитику по нише ...") that are not the niche.
REQUEST_WORDS = frozenset(
    stem(w)
    for w in [
        "аналитика",
        "аналитику",
        "аналитики",
        "покажи",
        "показать",
        "покажите",
        "дай",
        "дайте",
        "давай",
        "нужна",
        "нужно",
        "хочу",
        "интересует",
        "ниша",
        "ниши",
        "нишу",
        "нише",
        "нишам",
        "статистика",
        "статистику",
        "данные",
        "цифры",
        "спрос",
        "рынок",
        "рынка",
        "заявки",
        "заявок",
        "сколько",
        "что",
        "как",
        "какой",
        "какая",
        "какие",
        "там",
        "по",
        "про",
        "для",
        "у",
        "меня",
        "мой",
        "моя",
        "наш",
        "наша",
        "бизнес",
        "бизнеса",
        "сфера",
        "сфере",
        "направление",
        "посмотреть",
        "глянуть",
        "узнать",
        "расскажи",
        "расскажите",
        "а",
        "ну",
        "ок",
        "еще",
        "ещё",
        "средний",
        "чек",
        "конкуренция",
        "сезонность",
    ]
)

FUZZY_CONFIDENT = 90.0
FUZZY_MARGIN = 4.0
SEMANTIC_CONFIDENT = 0.62
SEMANTIC_MARGIN = 0.05
SHORTLIST = 25

SemanticSearch = Callable[[str, int], list[tuple[str, float]]]  # text -> [(niche, cosine)], best first


def niche_terms(text: str) -> list[str]:
    """Stems of the text without stop words and request words."""
    return [s for w in to_cyrillic(text).split() if w not in STOP_WORDS and (s := stem(w)) not in REQUEST_WORDS]


@dataclass(frozen=True)
class _Name:
    key: str  # stemmed, space-joined
    niche: str


class NicheResolver:
    def __init__(self, records: list[NicheRecord], semantic: SemanticSearch) -> None:
        self._records = {r.niche: r for r in records}
        self._semantic = semantic
        self._names: list[_Name] = []
        self._exact: dict[str, str] = {}
        for record in records:
            for name in [record.niche, *record.aliases]:
                key = " ".join(niche_terms(name))
                if key:
                    self._names.append(_Name(key, record.niche))
                    self._exact.setdefault(key, record.niche)
                    self._exact.setdefault(" ".join(sorted(key.split())), record.niche)
        self._keys = [n.key for n in self._names]

    def category(self, niche: str) -> str | None:
        record = self._records.get(niche)
        return record.category if record else None

    def _fuzzy(self, key: str, limit: int) -> list[tuple[str, float]]:
        found = process.extract(key, self._keys, scorer=fuzz.WRatio, limit=limit * 3)
        best: dict[str, float] = {}
        for _, score, index in found:
            niche = self._names[index].niche
            best[niche] = max(best.get(niche, 0.0), float(score))
        return sorted(best.items(), key=lambda item: item[1], reverse=True)[:limit]

    def resolve(self, text: str, show: int = 5) -> NicheResolution:
        show = max(3, min(show, SHORTLIST))
        terms = niche_terms(text)
        key = " ".join(terms)
        if not key:
            return NicheResolution(show=show)
        for candidate in (key, " ".join(sorted(terms))):
            if candidate in self._exact:
                return NicheResolution(niche=self._exact[candidate], method="exact", show=show)
        fuzzy = self._fuzzy(key, SHORTLIST)
        if fuzzy and fuzzy[0][1] >= FUZZY_CONFIDENT and (len(fuzzy) == 1 or fuzzy[0][1] - fuzzy[1][1] >= FUZZY_MARGIN):
            return NicheResolution(niche=fuzzy[0][0], method="fuzzy", show=show)
        semantic = self._semantic(" ".join(to_cyrillic(text).split()), SHORTLIST)
        if (
            semantic
            and semantic[0][1] >= SEMANTIC_CONFIDENT
            and (len(semantic) == 1 or semantic[0][1] - semantic[1][1] >= SEMANTIC_MARGIN)
        ):
            top_fuzzy = {n for n, s in fuzzy[:3] if s >= 70}
            if not top_fuzzy or semantic[0][0] in top_fuzzy:
                return NicheResolution(niche=semantic[0][0], method="semantic", show=show)
        fused = rrf([[n for n, _ in semantic], [n for n, s in fuzzy if s >= 50]], weights=[1.0, 0.8])
        hits = [NicheHit(niche=n, category=self.category(n), score=round(s, 5)) for n, s in fused[:SHORTLIST]]
        return NicheResolution(candidates=hits, show=show)
