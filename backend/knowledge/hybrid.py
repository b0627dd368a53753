"""Fusion of several rankings (dense, lexical, fuzzy, ...).

* ``rrf``: reciprocal-rank fusion, when only the order of each ranking is meaningful;
* ``normalise`` + ``weighted_sum``: convex combination of scores scaled to [0, 1], when the scores
  themselves say how sure each retriever is (a BM25 hit far ahead of the rest should win).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60


def rrf(
    rankings: Sequence[Sequence[K]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[K, float]]:
    """Fuse best-first rankings: score(d) = Σ w / (k + rank). Ties keep first-seen order."""
    scores: dict[K, float] = {}
    for index, ranking in enumerate(rankings):
        weight = weights[index] if weights else 1.0
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def normalise(scored: Sequence[tuple[K, float]], floor: float | None = None) -> dict[K, float]:
    """Scale scores to [0, 1]: the best becomes 1 and ``floor`` (default: the worst score) 0."""
    if not scored:
        return {}
    best = max(score for _, score in scored)
    low = min(score for _, score in scored) if floor is None else floor
    span = best - low
    if span <= 0:
        return {key: 1.0 for key, _ in scored}
    return {key: max(0.0, (score - low) / span) for key, score in scored}


def weighted_sum(parts: Sequence[Mapping[K, float]], weights: Sequence[float]) -> list[tuple[K, float]]:
    """Σ w·score over the parts (a key missing from a part scores 0 there), best first.
    Ties keep first-seen order."""
    scores: dict[K, float] = {}
    for part, weight in zip(parts, weights, strict=True):
        for key, score in part.items():
            scores[key] = scores.get(key, 0.0) + weight * score
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)
