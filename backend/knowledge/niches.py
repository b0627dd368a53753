"""``resolve_niche``: from what a visitor typed to one of the known niches, or a shortlist.

Steps: normalise (case, ё, punctuation, translit, chat slang) and drop the request and filler words
around the niche (``chat_words``); spell-correct words the niche names never use; then, first match wins:
1. exact title or alias (as stems, in any word order; a title beats another niche's alias);
2. a whole-string near match (typos the speller left, word order);
3. a title or alias whose every word is in the message, with at most one word to spare; or the
   unique longest title or alias standing word for word in a longer message, no other word of which
   is in another niche's name;
4. a clear semantic match over title/alias/summary vectors that the fuzzy ranking does not
   contradict (not when the message names two niches);
5. with a fitted niche ranker (``niche_ranker`` in ``scenario/calibration.json``): every candidate
   of the semantic, BM25, name-word and fuzzy rankings gets the probability that it is the niche
   meant; the first is answered when the fitted ``niche_confidence`` (from its probability, its
   lead over the second, and how close its nearest rival niche is: a real tie) reaches
   ``niche_confident_at``, and the message does not name two niches;
otherwise the ranking as a shortlist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from backend.knowledge.calibration import RIGHT_NICHE, LinearModel
from backend.knowledge.chat_words import REQUEST_FORMS
from backend.knowledge.hybrid import rrf
from backend.knowledge.normalize import STOP_WORDS, stem, to_cyrillic
from backend.knowledge.schemas import NicheHit, NicheRecord, NicheResolution
from backend.knowledge.spelling import Speller

# Words people put around a niche name ("покажи аналитику по нише ...") that are not the niche.
REQUEST_WORDS = frozenset(stem(w) for w in REQUEST_FORMS)

FUZZY_CONFIDENT = 90.0
FUZZY_MARGIN = 4.0
FUZZY_USED = 50.0  # the loose ranking's scores below this are never used (see ``resolve``)
SEMANTIC_CONFIDENT = 0.62
SEMANTIC_MARGIN = 0.05
SEMANTIC_WEAK = 0.4  # below this the nearest niche vector is no better than noise
NAMED_WEIGHT = 0.5
NAMED_WEIGHT_ALONE = 1.5
SHORTLIST = 25
RELATED_PREFIX = 5
MAX_TERM_NICHES = 8  # a message word in more niche names than this does not rank them
RELATED_CACHE = 20_000  # message terms remembered by _related_niches
SPARE_WORDS = 1  # words of the message beyond a fully contained name ("ремонт квартир в москве")

TIE_WITH = 5  # the first candidate's rivals: the next candidates of the ranking
# When a message word is "alike" a word of a niche title (the niche probe's test, ``alike``): the same
# first letters, or a close spelling.
ALIKE_PREFIX = 5
ALIKE_RATIO = 80.0
ALIKE_CACHE = 10_000  # message terms remembered by ``alike_title_word``
SemanticSearch = Callable[[str, int], list[tuple[str, float]]]  # text -> [(niche, cosine)], best first
LexicalSearch = Callable[[str, int], list[tuple[str, float]]]  # text -> [(niche, BM25)], best first
Closeness = Callable[[str, list[str]], float]  # niche, rivals -> the best cosine of their title vectors
CONFIDENCE_FEATURES = ("first", "lead", "tie")
RANKER_FEATURES = (
    "semantic", "semantic_gap", "semantic_rank", "lexical", "lexical_share", "lexical_rank",
    "name_share", "named_rank", "fuzzy", "fuzzy_rank",
)  # fmt: skip


def _niche_words(text: str) -> list[str]:
    return [w for w in to_cyrillic(text).split() if w not in STOP_WORDS and stem(w) not in REQUEST_WORDS]


def niche_terms(text: str, speller: Speller | None = None) -> list[str]:
    """Stems of the text without stop words and request words (spell-corrected with ``speller``)."""
    words = _niche_words(text)
    return [stem(w) for w in (speller.correct_all(words) if speller else words)]


def _sorted_words(text: str) -> str:
    return " ".join(sorted(text.split()))


def title_stems(niche: str) -> list[str]:
    """The stems of a niche title's words (stop words removed)."""
    return [stem(w) for w in to_cyrillic(niche).split() if w not in STOP_WORDS]


def alike(term: str, name_stem: str) -> bool:
    """Whether a message term and a stem of a niche name are the same word: the same first
    ``ALIKE_PREFIX`` letters (both long enough), or a ``fuzz.ratio`` of at least ``ALIKE_RATIO``."""
    if len(term) >= ALIKE_PREFIX and len(name_stem) >= ALIKE_PREFIX and term[:ALIKE_PREFIX] == name_stem[:ALIKE_PREFIX]:
        return True
    return len(term) >= 4 and fuzz.ratio(term, name_stem) >= ALIKE_RATIO


@dataclass(frozen=True)
class _Name:
    key: str  # stemmed, space-joined
    niche: str
    terms: frozenset[str]


class NicheResolver:
    def __init__(
        self,
        records: list[NicheRecord],
        semantic: SemanticSearch,
        lexical: LexicalSearch | None = None,
        closeness: Closeness | None = None,
        ranker: LinearModel | None = None,
        confidence: LinearModel | None = None,
        confident_at: float | None = None,
    ) -> None:
        self._records = {r.niche: r for r in records}
        self.ranker = ranker  # fitted: the probability that a candidate is the niche meant
        self.confidence = confidence  # fitted: the probability that the ranker's first candidate is right
        self.confident_at = confident_at  # fitted: answer the first candidate from this confidence on
        self._semantic = semantic
        self._lexical = lexical or (lambda _text, _k: [])
        self.closeness = closeness or (lambda _niche, _rivals: 0.0)
        self._names: list[_Name] = []
        self._exact: dict[str, str] = {}
        self.speller = Speller(w for r in records for name in [r.niche, *r.aliases] for w in _niche_words(name))
        # Titles first, so a title always beats another niche's alias of the same words.
        named = [(r.niche, r.niche) for r in records] + [(a, r.niche) for r in records for a in r.aliases]
        for name, niche in named:
            terms = niche_terms(name)
            key = " ".join(terms)
            if key:
                self._names.append(_Name(key, niche, frozenset(terms)))
                self._exact.setdefault(key, niche)
                self._exact.setdefault(" ".join(sorted(terms)), niche)
        self._keys = [n.key for n in self._names]
        self._sorted_keys = [_sorted_words(key) for key in self._keys]  # ``_near``'s choices, sorted once
        self._by_key: dict[str, _Name] = {}
        self._niche_names: dict[str, list[_Name]] = {}
        for name_ in self._names:  # titles first: a title wins over another niche's alias
            self._by_key.setdefault(name_.key, name_)
            self._niche_names.setdefault(name_.niche, []).append(name_)
        self._related: dict[str, frozenset[str]] = {}
        self._longest = max((len(n.key.split()) for n in self._names), default=0)
        self._term_niches: dict[str, set[str]] = {}
        for name_ in self._names:
            for term in name_.terms:
                self._term_niches.setdefault(term, set()).add(name_.niche)
        self._title_stems = sorted({s for r in records for s in title_stems(r.niche)})
        self._title_prefixes = frozenset(s[:ALIKE_PREFIX] for s in self._title_stems if len(s) >= ALIKE_PREFIX)
        self._alike_titles: dict[str, bool] = {}

    def category(self, niche: str) -> str | None:
        record = self._records.get(niche)
        return record.category if record else None

    def _fuzzy(self, key: str, limit: int) -> list[tuple[str, float]]:
        """Loose ranking for the shortlist (partial matches count). Scores below ``FUZZY_USED`` are
        cut inside rapidfuzz, which lets it skip work: nothing ``resolve`` reads changes."""
        found = process.extract(key, self._keys, scorer=fuzz.WRatio, limit=limit * 3, score_cutoff=FUZZY_USED)
        return self._best_per_niche((index, float(score)) for _, score, index in found)[:limit]

    def _near(self, key: str) -> list[tuple[str, float]]:
        """Strict whole-string similarity, for a confident answer. A runner-up below
        ``FUZZY_CONFIDENT - FUZZY_MARGIN`` cannot change that decision, so it is cut inside rapidfuzz.
        The score is ``fuzz.token_sort_ratio``: the ratio of the words sorted, here with the names'
        words sorted once instead of on every comparison."""
        found = process.extract(
            _sorted_words(key),
            self._sorted_keys,
            scorer=fuzz.ratio,
            limit=10,
            score_cutoff=FUZZY_CONFIDENT - FUZZY_MARGIN,
        )
        return self._best_per_niche((index, float(score)) for _, score, index in found)

    def _best_per_niche(self, scored: Iterable[tuple[int, float]]) -> list[tuple[str, float]]:
        best: dict[str, float] = {}
        for index, score in scored:
            niche = self._names[index].niche
            best[niche] = max(best.get(niche, 0.0), score)
        return sorted(best.items(), key=lambda item: item[1], reverse=True)

    def _contained(self, terms: list[str]) -> str | None:
        """The one niche with a name fully contained in the message (the longest such name), when
        the words to spare name no other niche ("ремонт квартир в москве", not "стоматология детская")."""
        have = set(terms)
        found = [n for n in self._names if n.terms <= have and len(have) - len(n.terms) <= SPARE_WORDS]
        if not found:
            return None
        size = max(len(n.terms) for n in found)
        niches = {n.niche for n in found if len(n.terms) == size}
        if len(niches) != 1:
            return None
        niche = niches.pop()
        spare = have - next(n.terms for n in found if n.niche == niche and len(n.terms) == size)
        if any(self._related_niches(term) - {niche} for term in spare):
            return None
        return niche

    def _runs(self, terms: list[str]) -> dict[str, tuple[int, frozenset[str]]]:
        """Niches whose name appears word for word in the message: niche -> (words, name terms)."""
        runs: dict[str, tuple[int, frozenset[str]]] = {}
        for size in range(min(len(terms), self._longest), 0, -1):
            for i in range(len(terms) - size + 1):
                name = self._by_key.get(" ".join(terms[i : i + size]))
                if name and name.niche not in runs:
                    runs[name.niche] = (size, name.terms)
        return runs

    def _contiguous(self, runs: dict[str, tuple[int, frozenset[str]]], terms: list[str]) -> str | None:
        """The niche whose name appears word for word in the message, whatever surrounds it, when
        its name is the unique longest such run and no other word of the message is in another
        niche's name ("думаю заходить в септики, какой спрос" → Септики и канализация)."""
        if not runs:
            return None
        longest = max(size for size, _ in runs.values())
        best = [(niche, covered) for niche, (size, covered) in runs.items() if size == longest]
        if len(best) != 1:
            return None
        niche, covered = best[0]
        spare = [t for t in terms if t not in covered]
        if any(self._related_niches(t) - {niche} for t in spare):
            return None  # another niche is named too ("грузы ... на газели")
        return niche

    def name_share(self, text: str) -> float:
        """The largest share of one niche name's words that ``text`` carries (0 when none)."""
        ranking = self._term_ranking(niche_terms(text, self.speller))
        return ranking[0][1] if ranking else 0.0

    def _term_ranking(self, terms: list[str]) -> list[tuple[str, float]]:
        """Niches by the share of a name's words the message carries (prefix-tolerant), so a
        strong name-word hit is not drowned by semantic neighbours of a long message."""
        scores: dict[str, float] = {}
        for term in set(terms):
            related = self._related_niches(term)
            if not related or len(related) > MAX_TERM_NICHES:  # a word shared by many names says little
                continue
            for name in (n for niche in related for n in self._niche_names[niche]):
                share = sum(self._close(term, t) for t in name.terms) / len(name.terms)
                scores[name.niche] = max(scores.get(name.niche, 0.0), share)
        # Ties in name order: sets iterate in a per-process hash order, and two workers must rank alike.
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    @staticmethod
    def _close(term: str, name_term: str) -> bool:
        if term == name_term:
            return True
        if min(len(term), len(name_term)) < RELATED_PREFIX:
            return False
        prefix = max(RELATED_PREFIX, len(name_term) - 2)
        return term[:prefix] == name_term[:prefix]

    def _related_niches(self, term: str) -> set[str]:
        """Niches with a name term starting like ``term`` but for its last two letters (stems of
        one word may differ in their endings: "визитк"/"визиток")."""
        found = self._related.get(term)
        if found is None:
            if len(term) < RELATED_PREFIX:
                found = frozenset(self._term_niches.get(term, set()))
            else:
                prefix = term[: max(RELATED_PREFIX, len(term) - 2)]
                found = frozenset(n for t, niches in self._term_niches.items() if t.startswith(prefix) for n in niches)
            if len(self._related) < RELATED_CACHE:
                self._related[term] = found
        return set(found)

    def alike_title_word(self, terms: Iterable[str]) -> bool:
        """Whether any of ``terms`` is ``alike`` a word of some niche's title (remembered per term)."""
        return any(self._alike_title(term) for term in terms)

    def _alike_title(self, term: str) -> bool:
        found = self._alike_titles.get(term)
        if found is None:
            found = (len(term) >= ALIKE_PREFIX and term[:ALIKE_PREFIX] in self._title_prefixes) or (
                len(term) >= 4
                and process.extractOne(term, self._title_stems, scorer=fuzz.ratio, score_cutoff=ALIKE_RATIO) is not None
            )
            if len(self._alike_titles) < ALIKE_CACHE:
                self._alike_titles[term] = found
        return found

    def exact(self, text: str, show: int = 5) -> NicheResolution | None:
        """The first step of ``resolve`` alone: the niche whose title or alias the text is (as stems,
        in any word order), the empty resolution when the text has no niche words, else None."""
        return self._exact_match(niche_terms(text, self.speller), max(3, min(show, SHORTLIST)))

    def _exact_match(self, terms: list[str], show: int) -> NicheResolution | None:
        key = " ".join(terms)
        if not key:
            return NicheResolution(show=show)
        for candidate in (key, " ".join(sorted(terms))):
            if candidate in self._exact:
                return NicheResolution(niche=self._exact[candidate], method="exact", show=show)
        return None

    def resolve(self, text: str, show: int = 5) -> NicheResolution:
        show = max(3, min(show, SHORTLIST))
        terms = niche_terms(text, self.speller)
        found = self._exact_match(terms, show)
        if found is not None:
            return found
        key = " ".join(terms)
        near = self._near(key)
        if near and near[0][1] >= FUZZY_CONFIDENT and (len(near) == 1 or near[0][1] - near[1][1] >= FUZZY_MARGIN):
            return NicheResolution(niche=near[0][0], method="fuzzy", show=show)
        runs = self._runs(terms)
        contained = self._contained(terms) or self._contiguous(runs, terms)
        if contained:
            return NicheResolution(niche=contained, method="fuzzy", show=show)
        multiple = len(runs) > 1  # a message naming two niches is a choice for the visitor
        fuzzy = self._fuzzy(key, SHORTLIST)
        semantic = self._semantic(" ".join(to_cyrillic(text).split()), SHORTLIST)
        if (
            semantic
            and not multiple
            and semantic[0][1] >= SEMANTIC_CONFIDENT
            and (len(semantic) == 1 or semantic[0][1] - semantic[1][1] >= SEMANTIC_MARGIN)
        ):
            top_fuzzy = {n for n, s in fuzzy[:3] if s >= 70}
            if not top_fuzzy or semantic[0][0] in top_fuzzy:
                return NicheResolution(niche=semantic[0][0], method="semantic", show=show)
        if self.ranker is not None:
            return self._ranked(self.ranker, text, terms, semantic, fuzzy, multiple, show)
        # Name words found in the message rank niches too; they lead when the semantic ranking
        # recognises nothing (a long message around one niche word), and only assist otherwise.
        named = [n for n, share in self._term_ranking(terms) if share >= 0.5]
        named_weight = NAMED_WEIGHT_ALONE if not semantic or semantic[0][1] < SEMANTIC_WEAK else NAMED_WEIGHT
        fused = rrf(
            [named, [n for n, _ in semantic], [n for n, s in fuzzy if s >= FUZZY_USED]],
            weights=[named_weight, 1.0, 0.8],
        )
        hits = [NicheHit(niche=n, category=self.category(n), score=round(s, 5)) for n, s in fused[:SHORTLIST]]
        lead = (fused[0][1] - fused[1][1]) / fused[0][1] if len(fused) > 1 else (1.0 if fused else 0.0)
        return NicheResolution(candidates=hits, lead=round(lead, 5), show=show)

    def _ranked(
        self,
        ranker: LinearModel,
        text: str,
        terms: list[str],
        semantic: list[tuple[str, float]],
        fuzzy: list[tuple[str, float]],
        multiple: bool,
        show: int,
    ) -> NicheResolution:
        """The fitted ranker's shortlist, or its first niche when the fitted confidence is reached."""
        features = self._features(text, terms, semantic, fuzzy)
        probabilities = ranker.probability_of(RIGHT_NICHE, list(features.values()))
        scored = sorted(zip(features, probabilities, strict=True), key=lambda item: item[1], reverse=True)[:SHORTLIST]
        hits = [NicheHit(niche=n, category=self.category(n), score=round(p, 5)) for n, p in scored]
        found = confidence_features(scored, self.closeness)
        lead = round(found["lead"], 5)
        confidence, at = self.confidence, self.confident_at
        if (
            confidence is not None
            and at is not None
            and not multiple
            and hits
            and confidence.probabilities(found)[RIGHT_NICHE] >= at
        ):
            return NicheResolution(niche=hits[0].niche, method="ranked", lead=lead, show=show)
        return NicheResolution(candidates=hits, lead=lead, show=show)

    def candidates(self, text: str) -> dict[str, dict[str, float]]:
        """The niche ranker's features of every candidate (for fitting it on a labelled corpus)."""
        terms = niche_terms(text, self.speller)
        key = " ".join(terms)
        semantic = self._semantic(" ".join(to_cyrillic(text).split()), SHORTLIST)
        return self._features(text, terms, semantic, self._fuzzy(key, SHORTLIST) if key else [])

    def _features(
        self, text: str, terms: list[str], semantic: list[tuple[str, float]], fuzzy: list[tuple[str, float]]
    ) -> dict[str, dict[str, float]]:
        """Every candidate of the semantic, BM25, name-word and fuzzy rankings, with scores comparable
        across corpora (cosines, shares, fuzzy ratios) and ranks."""
        lexical = self._lexical(text, SHORTLIST)
        named = self._term_ranking(terms)[:SHORTLIST]
        floor = min((c for _, c in semantic), default=0.0)
        best_semantic = semantic[0][1] if semantic else 0.0
        best_lexical = lexical[0][1] if lexical else 0.0
        ranks = [{n: 1.0 / (1 + r) for r, (n, _) in enumerate(found)} for found in (semantic, lexical, named, fuzzy)]
        values = [dict(found) for found in (semantic, lexical, named, fuzzy)]
        found: dict[str, dict[str, float]] = {}
        for niche in dict.fromkeys(n for ranking in (semantic, lexical, named, fuzzy) for n, _ in ranking):
            cosine = values[0].get(niche, floor)
            bm25 = values[1].get(niche, 0.0)
            found[niche] = {
                "semantic": cosine,
                "semantic_gap": cosine - best_semantic,
                "semantic_rank": ranks[0].get(niche, 0.0),
                "lexical": math.log1p(bm25),
                "lexical_share": bm25 / best_lexical if best_lexical > 0 else 0.0,
                "lexical_rank": ranks[1].get(niche, 0.0),
                "name_share": values[2].get(niche, 0.0),
                "named_rank": ranks[2].get(niche, 0.0),
                "fuzzy": values[3].get(niche, 0.0) / 100,
                "fuzzy_rank": ranks[3].get(niche, 0.0),
            }
        return found


def confidence_features(scored: list[tuple[str, float]], closeness: Closeness) -> dict[str, float]:
    """How sure the ranking is of its first niche: its probability, its lead over the second, and
    how close (title cosine) the nearest of the next candidates is to it: two near-synonymous
    niches at the top are a real tie, whatever the lead."""
    if not scored:
        return {"first": 0.0, "lead": 0.0, "tie": 0.0}
    first = scored[0][1]
    second = scored[1][1] if len(scored) > 1 else 0.0
    rivals = [n for n, _ in scored[1 : TIE_WITH + 1]]
    return {"first": first, "lead": first - second, "tie": closeness(scored[0][0], rivals) if rivals else 0.0}
