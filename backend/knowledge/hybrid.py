"""Reciprocal-rank fusion of several rankings (dense, lexical, ...)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
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


def dedupe_best(items: Sequence[tuple[K, float]]) -> list[K]:
    """Keys in order of first appearance (e.g. chunks pooled to their article)."""
    return list(dict.fromkeys(key for key, _ in items))
