"""The evidence for ranking FAQ articles against one question, per candidate article.

A fitted logistic model (``faq_ranker`` in ``scenario/calibration.json``, see ``calibration.py``)
turns these features into the probability that the article answers the question; without one the
service falls back to the convex dense + BM25 fusion. Every feature is comparable across corpora
and questions: cosines, BM25 relative to the best hit, shares of the question's words, ranks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

UNIT_KINDS = ("title", "summary", "body")
FEATURES = (
    "dense", "dense_title", "dense_summary", "dense_body", "dense_gap", "dense_rank",
    "lexical", "lexical_share", "lexical_rank", "coverage", "head_coverage", "sentence_coverage",
)  # fmt: skip


def candidate_features(
    by_kind: Mapping[str, Mapping[str, float]],
    lexical: Mapping[str, float],
    wanted: frozenset[str],
    body_stems: Mapping[str, frozenset[str]],
    head_stems: Mapping[str, frozenset[str]],
    sentence_stems: Mapping[str, tuple[frozenset[str], ...]],
    floor: float,
) -> dict[str, dict[str, float]]:
    """Features of every candidate (an article among the dense or lexical hits).

    ``by_kind``: article -> unit kind -> best cosine of that kind (kinds not retrieved count as
    ``floor``, the lowest cosine retrieved); ``lexical``: article -> BM25; ``wanted``: the question's
    content stems; ``body_stems`` / ``head_stems``: every stem of an article / of its title, tags and
    summary; ``sentence_stems``: the stems of each of its sentences.
    """
    dense = {a: max(kinds.values()) for a, kinds in by_kind.items()}
    best_dense = max(dense.values(), default=floor)
    best_lexical = max(lexical.values(), default=0.0)
    dense_rank = {a: r for r, a in enumerate(sorted(dense, key=lambda a: -dense[a]))}
    lexical_rank = {a: r for r, a in enumerate(sorted(lexical, key=lambda a: -lexical[a]))}
    found: dict[str, dict[str, float]] = {}
    for article in dict.fromkeys([*dense, *lexical]):
        kinds = by_kind.get(article, {})
        score = lexical.get(article, 0.0)

        def share(stems: Mapping[str, frozenset[str]], key: str = article) -> float:
            return len(wanted & stems.get(key, frozenset())) / len(wanted) if wanted else 0.0

        found[article] = {
            "dense": dense.get(article, floor),
            **{f"dense_{kind}": kinds.get(kind, floor) for kind in UNIT_KINDS},
            "dense_gap": dense.get(article, floor) - best_dense,
            "dense_rank": 1.0 / (1 + dense_rank.get(article, len(dense_rank))),
            "lexical": math.log1p(max(score, 0.0)),
            "lexical_share": score / best_lexical if best_lexical > 0 else 0.0,
            "lexical_rank": 1.0 / (1 + lexical_rank[article]) if article in lexical_rank else 0.0,
            "coverage": share(body_stems),
            "head_coverage": share(head_stems),
            "sentence_coverage": best_sentence_share(wanted, sentence_stems.get(article, ())),
        }
    return found


def best_sentence_share(wanted: frozenset[str], sentences: tuple[frozenset[str], ...]) -> float:
    """The largest share of the question's content stems that one sentence holds: an answer is usually
    one sentence that names what was asked, where an article's words alone may be spread over it."""
    if not wanted:
        return 0.0
    return max((len(wanted & stems) for stems in sentences), default=0) / len(wanted)
