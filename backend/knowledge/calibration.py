"""Decisions fitted on a labelled corpus, not set by hand: ``scenario/calibration.json`` (``CALIBRATION_PATH``).

``python -m scripts.eval.calibrate`` fits them on the training corpora (A and C to F; never B, G, H or I), one
entry per embedding model (cosines of different models live on different scales), with
scikit-learn; here they are only applied, with numpy, so the product does not need scikit-learn at
run time. An entry holds:

* ``router``: the mean of a multinomial logistic regression and gradient-boosted trees over routing
  features (scenario probabilities);
* ``faq_ranker``: a logistic regression over each candidate article's evidence
  (``faq_ranking.FEATURES``): the probability that it answers the question, which orders the hits;
* ``answer_gate`` + ``gate_threshold``: a logistic regression telling whether the best FAQ hits
  answer the question at all;
* ``source_ratio``: a further article is shown as a source when its fused score is at least this
  share of the first one's;
* ``niche_ranker``: a logistic regression over each candidate niche's evidence
  (``niches.RANKER_FEATURES``): the probability that it is the niche the visitor means;
* ``niche_confidence`` + ``niche_confident_at``: a logistic regression telling whether the niche
  ranker's first candidate is right (``niches.CONFIDENCE_FEATURES``), and the probability from
  which it is answered outright instead of shortlisted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.knowledge.schemas import FaqHit, FaqResult

logger = logging.getLogger(__name__)

MAX_SOURCES = 3
ANSWERED = "answer"  # the answer gate's positive class
RIGHT_ARTICLE = "right"  # the FAQ ranker's positive class
RIGHT_NICHE = "right"  # the niche ranker's positive class
GATE_HITS = 3


def _class_probabilities(classes: tuple[str, ...], raw: np.ndarray) -> dict[str, float]:
    """Raw scores to class probabilities: one score (the second class's) for two classes, else softmax."""
    if len(classes) == 2 and len(raw) == 1:
        p = 1.0 / (1.0 + np.exp(-raw[0]))
        return {classes[0]: float(1 - p), classes[1]: float(p)}
    exp = np.exp(raw - raw.max())
    return dict(zip(classes, (exp / exp.sum()).tolist(), strict=True))


@dataclass(frozen=True)
class LinearModel:
    """Standardised features → logistic (binary) or softmax (multinomial) probabilities."""

    features: tuple[str, ...]
    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (1 or n_classes, n_features)
    intercept: np.ndarray

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LinearModel:
        return cls(
            features=tuple(raw["features"]),
            classes=tuple(raw["classes"]),
            mean=np.asarray(raw["mean"], dtype=np.float64),
            scale=np.asarray(raw["scale"], dtype=np.float64),
            coef=np.asarray(raw["coef"], dtype=np.float64),
            intercept=np.asarray(raw["intercept"], dtype=np.float64),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "classes": list(self.classes),
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": self.intercept.round(6).tolist(),
        }

    def probability_of(self, cls: str, rows: Sequence[Mapping[str, float]]) -> list[float]:
        """The probability of ``cls`` for each row of a binary model, in one matrix product."""
        if not rows:
            return []
        x = (np.array([[row.get(name, 0.0) for name in self.features] for row in rows]) - self.mean) / self.scale
        p = 1.0 / (1.0 + np.exp(-(x @ self.coef[0] + self.intercept[0])))  # the second class's
        return [float(v) for v in (p if cls == self.classes[1] else 1.0 - p)]

    def probabilities(self, values: dict[str, float]) -> dict[str, float]:
        x = (np.array([values.get(name, 0.0) for name in self.features]) - self.mean) / self.scale
        return _class_probabilities(self.classes, self.coef @ x + self.intercept)


@dataclass(frozen=True)
class TreeEnsemble:
    """Gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``, exported by
    ``scripts/eval/calibrate.py``), applied with numpy: every tree at once, one level per step.

    The nodes of all trees are numbered together; a leaf is its own left and right child, so ``depth``
    steps from the roots reach every tree's leaf. A row goes left when its value is at most the node's
    threshold (the inputs are never missing)."""

    features: tuple[str, ...]
    classes: tuple[str, ...]
    baseline: np.ndarray  # (outputs,): the raw score before any tree; one output for two classes
    roots: np.ndarray  # (trees,): each tree's root node
    output: np.ndarray  # (trees,): the raw output each tree adds to
    feature: np.ndarray  # (nodes,): the input a node tests
    threshold: np.ndarray  # (nodes,)
    left: np.ndarray  # (nodes,)
    right: np.ndarray  # (nodes,)
    value: np.ndarray  # (nodes,): a leaf's addition to its output
    depth: int

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TreeEnsemble:
        return cls(
            features=tuple(raw["features"]),
            classes=tuple(raw["classes"]),
            baseline=np.asarray(raw["baseline"], dtype=np.float64),
            roots=np.asarray(raw["roots"], dtype=np.intp),
            output=np.asarray(raw["output"], dtype=np.intp),
            feature=np.asarray(raw["feature"], dtype=np.intp),
            threshold=np.asarray(raw["threshold"], dtype=np.float64),
            left=np.asarray(raw["left"], dtype=np.intp),
            right=np.asarray(raw["right"], dtype=np.intp),
            value=np.asarray(raw["value"], dtype=np.float64),
            depth=int(raw["depth"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "trees",
            "features": list(self.features),
            "classes": list(self.classes),
            "baseline": self.baseline.tolist(),
            "roots": self.roots.tolist(),
            "output": self.output.tolist(),
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),  # unrounded: a rounded threshold could flip a split
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": self.value.round(8).tolist(),
            "depth": self.depth,
        }

    def probabilities(self, values: dict[str, float]) -> dict[str, float]:
        x = np.array([values.get(name, 0.0) for name in self.features], dtype=np.float64)
        node = self.roots
        for _ in range(self.depth):
            node = np.where(x[self.feature[node]] <= self.threshold[node], self.left[node], self.right[node])
        raw = self.baseline + np.bincount(self.output, weights=self.value[node], minlength=len(self.baseline))
        return _class_probabilities(self.classes, raw)


@dataclass(frozen=True)
class MeanOf:
    """The mean of several models' class probabilities (a logistic regression and trees: the trees
    read thresholds and interactions, the linear model keeps the answer smooth where the trees saw
    few examples, such as an FAQ of two articles)."""

    models: tuple[LinearModel | TreeEnsemble, ...]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.models[0].classes

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "mean", "models": [m.to_dict() for m in self.models]}

    def probabilities(self, values: dict[str, float]) -> dict[str, float]:
        each = [m.probabilities(values) for m in self.models]
        return {c: sum(p[c] for p in each) / len(each) for c in self.classes}


Classifier = LinearModel | TreeEnsemble | MeanOf


def classifier_from_dict(raw: dict[str, Any]) -> Classifier:
    kind = raw.get("kind")
    if kind == "mean":
        return MeanOf(tuple(TreeEnsemble.from_dict(m) if m.get("kind") == "trees" else LinearModel.from_dict(m)
                            for m in raw["models"]))  # fmt: skip
    return TreeEnsemble.from_dict(raw) if kind == "trees" else LinearModel.from_dict(raw)


@dataclass(frozen=True)
class Calibration:
    router: Classifier | None = None
    faq_ranker: LinearModel | None = None
    answer_gate: LinearModel | None = None
    gate_threshold: float = 0.5
    source_ratio: float = 1.0  # 1.0: only the first article
    niche_ranker: LinearModel | None = None
    niche_confidence: LinearModel | None = None
    niche_confident_at: float | None = None  # None: never answer from the shortlist

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Calibration:
        return cls(
            router=classifier_from_dict(raw["router"]) if raw.get("router") else None,
            faq_ranker=LinearModel.from_dict(raw["faq_ranker"]) if raw.get("faq_ranker") else None,
            answer_gate=LinearModel.from_dict(raw["answer_gate"]) if raw.get("answer_gate") else None,
            gate_threshold=float(raw.get("gate_threshold", 0.5)),
            source_ratio=float(raw.get("source_ratio", 1.0)),
            niche_ranker=LinearModel.from_dict(raw["niche_ranker"]) if raw.get("niche_ranker") else None,
            niche_confidence=LinearModel.from_dict(raw["niche_confidence"]) if raw.get("niche_confidence") else None,
            niche_confident_at=float(raw["niche_confident_at"]) if raw.get("niche_confident_at") is not None else None,
        )

    def answer_probability(self, found: FaqResult) -> float:
        """How likely the best hits answer the question (1.0 without a fitted gate)."""
        if not found.hits:
            return 0.0
        if self.answer_gate is None:
            return 1.0
        return self.answer_gate.probabilities(gate_features(found))[ANSWERED]

    def answers(self, found: FaqResult) -> bool:
        """Whether the hits answer the question. Without dense evidence (the vector store is down) the
        gate's inputs are outside what it was fitted on, so any lexical hit is taken, as before the gate."""
        if found.dense_missing:
            return bool(found.hits)
        return bool(found.hits) and self.answer_probability(found) >= self.gate_threshold

    def shown(self, hits: Sequence[FaqHit]) -> list[FaqHit]:
        """The articles to show as sources: the first, and up to two more whose fused score is close."""
        if not hits:
            return []
        top = hits[0].score
        return [hits[0], *(h for h in hits[1:MAX_SOURCES] if top > 0 and h.score >= self.source_ratio * top)]


def load_calibration(path: Path, model_id: str) -> Calibration:
    """The entry fitted for ``model_id``; an empty calibration (with a warning) when there is none."""
    entries: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    raw = entries.get(model_id)
    if raw is None:
        logger.warning(
            "no calibration for this embedding model; fit one with: python -m scripts.eval.calibrate",
            extra={"model_id": model_id, "path": str(path)},
        )
        return Calibration()
    return Calibration.from_dict(raw)


def gate_features(found: FaqResult) -> dict[str, float]:
    """The answer gate's inputs: the first hit's ranker score, the raw evidence of the best hits (dense
    cosine, BM25, the share of the question's words an article holds), how much of the question
    the FAQ knows at all, and how many of the words it knows the first article lacks."""
    top = found.hits[:GATE_HITS]
    return {
        "score": top[0].score,  # with a fitted FAQ ranker, the probability that the first hit is right
        "dense": max(h.dense for h in top),
        "lexical": float(np.log1p(max(max(h.lexical for h in top), 0.0))),
        "coverage": max(h.coverage for h in top),
        "first_coverage": top[0].coverage,
        # the same, each word weighted by its rarity in the FAQ: a question whose rare word (its point)
        # the first article lacks is covered by common words only
        "first_weighted_coverage": top[0].weighted_coverage,
        "sentence_coverage": max(h.sentence_coverage for h in top),
        "known_share": found.known_share,
        "unknown_words": float(min(found.unknown_words, 4)),
        "unknown_topic_words": float(min(found.unknown_topic_words, 3)),
        # a word the FAQ knows but the first article lacks: often the very point the article misses
        "missing_in_first": float(min(found.missing_in_first, 3)),
        "content_words": float(min(found.content_words, 8)),
        "english": float(found.english),
        "sentences": float(min(found.sentence_count, 3)),
    }
