"""The evidence for ranking FAQ articles against one question, per candidate article.

A fitted logistic model (``faq_ranker`` in ``scenario/calibration.json``, see ``calibration.py``)
turns these features into the probability that the article answers the question; without one the
service falls back to the convex dense + BM25 fusion. Every feature is comparable across corpora
and questions: cosines, BM25 relative to the best hit, shares of the question's words, ranks.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

UNIT_KINDS = ("title", "summary", "body")
FEATURES = (
    "dense", "dense_title", "dense_summary", "dense_body", "dense_gap", "dense_rank",
    "lexical", "lexical_share", "lexical_rank", "coverage", "head_coverage", "sentence_coverage",
    "weighted_coverage", "weighted_sentence_coverage", "coverage_gap", "sentence_gap",
)  # fmt: skip


@dataclass(frozen=True)
class FaqTerms:
    """The word stems of a FAQ corpus, per article: all of them (title, summary, tags, text), those of
    its title, tags and summary, and those of each sentence; and how informative each stem is."""

    body: Mapping[str, frozenset[str]]
    head: Mapping[str, frozenset[str]]
    sentences: Mapping[str, tuple[frozenset[str], ...]]
    idf: Mapping[str, float]  # a stem no article holds weighs ``unseen_idf``
    unseen_idf: float

    @classmethod
    def build(
        cls,
        body: Mapping[str, frozenset[str]],
        head: Mapping[str, frozenset[str]],
        sentences: Mapping[str, tuple[frozenset[str], ...]],
    ) -> FaqTerms:
        """The inverse document frequency over the articles (smoothed as scikit-learn's ``TfidfVectorizer``)."""
        n = len(body)
        counts = Counter(s for stems in body.values() for s in stems)
        idf = {s: math.log((1 + n) / (1 + df)) + 1 for s, df in counts.items()}
        return cls(body, head, sentences, idf, math.log(1 + n) + 1)

    def weight(self, stems: frozenset[str]) -> float:
        return sum(self.idf.get(s, self.unseen_idf) for s in stems)


def candidate_features(
    by_kind: Mapping[str, Mapping[str, float]],
    lexical: Mapping[str, float],
    wanted: frozenset[str],
    terms: FaqTerms,
    floor: float,
) -> dict[str, dict[str, float]]:
    """Features of every candidate (an article among the dense or lexical hits).

    ``by_kind``: article -> unit kind -> best cosine of that kind (kinds not retrieved count as
    ``floor``, the lowest cosine retrieved); ``lexical``: article -> BM25; ``wanted``: the question's
    content stems. Word coverage is also weighted by how rare a word is among the articles (a word
    every article holds says little), and read against the best candidate's.
    """
    dense = {a: max(kinds.values()) for a, kinds in by_kind.items()}
    best_dense = max(dense.values(), default=floor)
    best_lexical = max(lexical.values(), default=0.0)
    dense_rank = {a: r for r, a in enumerate(sorted(dense, key=lambda a: -dense[a]))}
    lexical_rank = {a: r for r, a in enumerate(sorted(lexical, key=lambda a: -lexical[a]))}
    total = terms.weight(wanted)
    found: dict[str, dict[str, float]] = {}
    for article in dict.fromkeys([*dense, *lexical]):
        kinds = by_kind.get(article, {})
        score = lexical.get(article, 0.0)
        body = terms.body.get(article, frozenset())
        sentences = terms.sentences.get(article, ())

        def share(stems: frozenset[str]) -> float:
            return len(wanted & stems) / len(wanted) if wanted else 0.0

        def weighted(stems: frozenset[str]) -> float:
            return terms.weight(wanted & stems) / total if total else 0.0

        found[article] = {
            "dense": dense.get(article, floor),
            **{f"dense_{kind}": kinds.get(kind, floor) for kind in UNIT_KINDS},
            "dense_gap": dense.get(article, floor) - best_dense,
            "dense_rank": 1.0 / (1 + dense_rank.get(article, len(dense_rank))),
            "lexical": math.log1p(max(score, 0.0)),
            "lexical_share": score / best_lexical if best_lexical > 0 else 0.0,
            "lexical_rank": 1.0 / (1 + lexical_rank[article]) if article in lexical_rank else 0.0,
            "coverage": share(body),
            "head_coverage": share(terms.head.get(article, frozenset())),
            "sentence_coverage": max((share(s) for s in sentences), default=0.0),
            "weighted_coverage": weighted(body),
            "weighted_sentence_coverage": max((weighted(s) for s in sentences), default=0.0),
        }
    for name, gap in (("coverage", "coverage_gap"), ("sentence_coverage", "sentence_gap")):
        best = max((values[name] for values in found.values()), default=0.0)
        for values in found.values():
            values[gap] = values[name] - best
    return found
