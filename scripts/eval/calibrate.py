"""Fit the offline assistant's decisions on the training corpora and write ``scenario/calibration.json``.

``python -m scripts.eval.calibrate [--embedder use|e5 ...] [--corpus acdef|...] [--out PATH]``

The training corpora are A (the demo corpus: ``faq/``, ``analytic/niches/`` and the labelled sets
in ``tests/assistant/data`` and ``tests/knowledge/data``) and C to F (``eval/corpus_<x>``: four
more made-up services, in corpus B's label format, each written by someone who read neither B nor the
router). Some of them only (``--corpus acdf --out FILE``, then ``chat_eval --corpus e --calibration FILE``)
give a cross-corpus reading: every decision fitted without a corpus, measured end to end on it.

For each embedding model (cosines of different models live on different scales) it indexes each
corpus and fits, with scikit-learn, in this order (each stage on the pipeline the earlier ones
shape); regularisation is chosen, and thresholds are read off, out of fold, holding out one whole
training corpus at a time (``_folds``), as an operator's own corpus will be unseen:

* ``faq_ranker``: a pointwise logistic ranker of candidate FAQ articles (C by cross-validated hit@1),
  with the unanswerable questions' candidates as negatives too;
* ``niche_ranker``: the same for candidate niches;
* ``niche_confidence`` + ``niche_confident_at``: whether the niche ranker's first candidate is right,
  on the requests the exact, fuzzy and semantic steps leave to it; the threshold lies above the
  out-of-fold confidence of every wrong first candidate;
* ``router``: the mean of a multinomial logistic regression and gradient-boosted trees
  (``HistGradientBoostingClassifier``) over the routing features of ``OfflineRouter`` (index
  evidence, nearest examples, intent cues), on the labelled messages the state and small-talk rules
  do not settle; the out-of-fold accuracy of each and of the mean is printed (the trees read
  thresholds and interactions a linear model cannot, the linear model stays smooth where the trees
  saw few examples; BENCHMARKS.md);
* ``answer_gate``: logistic regression telling answerable questions from in-domain questions no
  article answers; the threshold refuses at most ``MAX_REFUSED`` of the answerable ones, by their
  out-of-fold probabilities;
* ``source_ratio``: further articles are shown when their ranker score is within this share of the
  first; the largest ratio that keeps ``SOURCE_GAIN`` of what showing three always would gain.

Corpora B, G, H and I (``eval/corpus_b|g|h|i``) are never read: they stay out-of-sample. scikit-learn is a development
dependency: the product applies the fitted numbers with numpy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold, cross_val_predict

from backend.assistant.factory import build_offline_model
from backend.assistant.funnel import FunnelState, looks_like_funnel_answer
from backend.assistant.offline.router import FEATURES, SCENARIOS, Route
from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.calibration import (
    MAX_SOURCES,
    RIGHT_ARTICLE,
    RIGHT_NICHE,
    Calibration,
    LinearModel,
    MeanOf,
    TreeEnsemble,
    gate_features,
)
from backend.knowledge.faq_ranking import FEATURES as FAQ_RANKER_FEATURES
from backend.knowledge.indexer import build_index
from backend.knowledge.niches import CONFIDENCE_FEATURES, confidence_features
from backend.knowledge.niches import RANKER_FEATURES as NICHE_RANKER_FEATURES
from backend.knowledge.service import KnowledgeBase
from scripts.eval.chat_eval import EMBEDDERS, TRAINING
from scripts.eval.routing_eval import context_of

DATA = ROOT_DIR / "tests" / "assistant" / "data"
KNOWLEDGE_DATA = ROOT_DIR / "tests" / "knowledge" / "data"
ROUTING_FILES = [DATA / "routing_eval.yaml", DATA / "routing_eval_extra.yaml", DATA / "unanswerable_a.yaml"]
EVAL = ROOT_DIR / "eval"
OUT = ROOT_DIR / "scenario" / "calibration.json"
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
MAX_REFUSED = 0.03
SOURCE_GAIN = 0.9
CONFIDENCE_MARGIN = 0.02
SEED = 7
FOLDS = 5
TREES = {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 7}  # small trees: a few thousand nodes
LOCO_CORPORA = 3  # from this many training corpora on, each is held out in turn (see ``_folds``)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


Folds = list[tuple[np.ndarray, np.ndarray]]


def _folds(y: np.ndarray, corpora: np.ndarray, questions: np.ndarray | None = None) -> Folds:
    """Cross-validation splits. With ``LOCO_CORPORA`` training corpora or more, each corpus is held out
    in turn: what is chosen and read off out-of-fold then holds for a corpus the fit has not seen,
    which is how an operator's own corpus meets it. Otherwise (or when holding a corpus out would leave
    a class unseen) ``FOLDS`` folds: by question for the rankers, stratified for the rest."""
    x = np.zeros((len(y), 1))
    if len(set(corpora.tolist())) >= LOCO_CORPORA:
        splits = list(LeaveOneGroupOut().split(x, y, corpora))
        if all(len(set(y[train].tolist())) == len(set(y.tolist())) for train, _ in splits):
            return splits
    if questions is not None:
        return list(GroupKFold(n_splits=FOLDS).split(x, y, questions))
    return list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(x, y))


def _fit(
    x: np.ndarray, y: np.ndarray, features: tuple[str, ...], folds: Folds
) -> tuple[LinearModel, dict[str, Any], np.ndarray]:
    """Logistic regression with C chosen by cross-validated accuracy; returns the model, its report
    and the out-of-fold class probabilities at that C (columns in ``model.classes`` order)."""
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        estimator = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        oof = cross_val_predict(estimator, z, y, cv=folds, method="predict_proba")
        accuracy = float((np.unique(y)[oof.argmax(axis=1)] == y).mean())
        if best is None or accuracy > best[1]:
            best = (c, accuracy, oof)
    assert best is not None
    estimator = LogisticRegression(C=best[0], class_weight="balanced", max_iter=5000).fit(z, y)
    model = LinearModel(
        features=features,
        classes=tuple(str(c) for c in estimator.classes_),
        mean=mean,
        scale=scale,
        coef=estimator.coef_,
        intercept=estimator.intercept_,
    )
    report = {"C": best[0], "cv_accuracy": round(best[1], 3), "in_sample_accuracy": round(estimator.score(z, y), 3),
              "folds": len(folds)}  # fmt: skip
    return model, report, best[2]


def _trees(estimator: HistGradientBoostingClassifier, features: tuple[str, ...]) -> TreeEnsemble:
    """The fitted trees as numbered nodes, every tree's numbers following the previous tree's, each
    leaf its own child (see ``TreeEnsemble``)."""
    roots, outputs, feature, threshold, left, right, value = [], [], [], [], [], [], []
    depth = 0
    for iteration in estimator._predictors:
        for output, predictor in enumerate(iteration):
            nodes, start = predictor.nodes, len(feature)
            assert not nodes["is_categorical"].any()
            leaf = nodes["is_leaf"].astype(bool)
            own = start + np.arange(len(nodes))
            roots.append(start)
            outputs.append(output)
            feature += np.where(leaf, 0, nodes["feature_idx"]).tolist()
            threshold += nodes["num_threshold"].tolist()
            left += np.where(leaf, own, start + nodes["left"].astype(np.int64)).tolist()
            right += np.where(leaf, own, start + nodes["right"].astype(np.int64)).tolist()
            value += np.where(leaf, nodes["value"], 0.0).tolist()
            depth = max(depth, int(nodes["depth"].max()))
    return TreeEnsemble(
        features=features,
        classes=tuple(str(c) for c in estimator.classes_),
        baseline=np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel(),
        roots=np.array(roots),
        output=np.array(outputs),
        feature=np.array(feature),
        threshold=np.array(threshold),
        left=np.array(left),
        right=np.array(right),
        value=np.array(value),
        depth=depth,
    )


def _fit_trees(
    x: np.ndarray, y: np.ndarray, features: tuple[str, ...], folds: Folds
) -> tuple[TreeEnsemble, dict[str, Any], np.ndarray]:
    """Gradient-boosted trees (``TREES``, classes balanced); returns the model, its report and the
    out-of-fold class probabilities. The exported trees are checked against scikit-learn's own."""
    assert not np.isnan(x).any()  # ``TreeEnsemble`` has no branch for a missing value

    def estimator() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(**TREES, class_weight="balanced", random_state=SEED)

    oof = cross_val_predict(estimator(), x, y, cv=folds, method="predict_proba")
    fitted = estimator().fit(x, y)
    model = _trees(fitted, features)
    mine = np.array(
        [[model.probabilities(dict(zip(features, row, strict=True)))[c] for c in model.classes] for row in x]
    )
    assert np.allclose(mine, fitted.predict_proba(x), atol=1e-6), "the exported trees disagree with scikit-learn"
    report = {"cv_accuracy": round(float((fitted.classes_[oof.argmax(axis=1)] == y).mean()), 3),
              "in_sample_accuracy": round(float(fitted.score(x, y)), 3), "nodes": len(model.feature)}  # fmt: skip
    return model, report, oof


@dataclass(frozen=True)
class TrainingCorpus:
    """One labelled corpus the decisions are fitted on (its own index, its own messages)."""

    name: str
    faq: Path
    niches: Path
    routing: list[dict[str, Any]]  # {text, scenario, state?, niche?}: every labelled message
    faq_queries: list[tuple[str, tuple[str, ...]]]  # answerable questions and their right articles
    answered: list[str]  # answerable questions (with or without an article label)
    unanswerable: list[str]  # in-domain questions no article answers
    niche_queries: list[tuple[str, str]]  # niche requests and their niche


def _labels(case: dict[str, Any]) -> tuple[str, ...]:
    ids = case.get("article_ids") or ([case["article_id"]] if case.get("article_id") else [])
    return tuple(str(i) for i in ids)


def corpus_a() -> TrainingCorpus:
    routing = [case for path in ROUTING_FILES for case in _yaml(path)]
    retrieval = _yaml(KNOWLEDGE_DATA / "faq_queries.yaml")["queries"]
    niche_sets = [
        _yaml(KNOWLEDGE_DATA / name)["queries"] for name in ("niche_queries.yaml", "niche_calibration_a.yaml")
    ]
    return TrainingCorpus(
        name="a",
        faq=ROOT_DIR / "faq",
        niches=ROOT_DIR / "analytic" / "niches",
        routing=routing,
        faq_queries=[(q["query"], (str(q["article_id"]),)) for q in retrieval]
        + [(c["text"], _labels(c)) for c in routing if c["scenario"] == "FAQ" and _labels(c)],
        answered=[q["query"] for q in retrieval]
        + [c["text"] for c in _yaml(DATA / "routing_eval.yaml") if c["scenario"] == "FAQ"],
        unanswerable=[c["text"] for c in _yaml(DATA / "unanswerable_a.yaml")],
        niche_queries=[(q["query"], q["niche"]) for queries in niche_sets for q in queries]
        + [(c["text"], c["niche"]) for c in routing if c.get("niche")],
    )


def labelled_corpus(name: str) -> TrainingCorpus:
    """A training corpus in corpus B's label format (``eval/corpus_<name>``: C to F)."""
    root = EVAL / f"corpus_{name}"
    routing = _yaml(root / "messages.yaml")
    faq = [c for c in routing if c["scenario"] == "FAQ"]
    return TrainingCorpus(
        name=name,
        faq=root / "faq",
        niches=root / "niches",
        routing=routing,
        faq_queries=[(c["text"], _labels(c)) for c in faq if _labels(c)],
        answered=[c["text"] for c in faq if c.get("answerable", True)],
        unanswerable=[c["text"] for c in faq if c.get("answerable", True) is False],
        niche_queries=[(c["text"], c["niche"]) for c in routing if c.get("niche")],
    )


def training_corpora(names: str) -> list[TrainingCorpus]:
    return [corpus_a() if name == "a" else labelled_corpus(name) for name in names]


def _fit_ranker(
    rows: list[list[float]], labels: list[str], groups: list[int], corpora: list[str], features: tuple[str, ...]
) -> tuple[LinearModel, dict[str, Any], np.ndarray]:
    """A pointwise ranker: logistic regression over (question, candidate) rows, positive class
    "right". C is chosen by the cross-validated share of questions whose best candidate is right
    (``_folds``: whole questions, or whole corpora, held out); also returns each row's out-of-fold
    probability of being right."""
    x, y, g = np.array(rows), np.array(labels), np.array(groups)
    folds = _folds(y, np.array(corpora), g)
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    questions = np.unique(g[y == "right"])  # a question no candidate answers has no first hit to get right

    def top1(right: np.ndarray) -> float:
        return sum(y[np.flatnonzero(g == q)[np.argmax(right[g == q])]] == "right" for q in questions) / len(questions)

    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        estimator = LogisticRegression(C=c, max_iter=5000)
        # classes sort as ("right", "wrong"): column 0 is the probability of "right"
        oof = cross_val_predict(estimator, z, y, cv=folds, method="predict_proba")[:, 0]
        accuracy = top1(oof)
        if best is None or accuracy > best[1]:
            best = (c, accuracy, oof)
    assert best is not None
    estimator = LogisticRegression(C=best[0], max_iter=5000).fit(z, y)
    model = LinearModel(features, tuple(str(c) for c in estimator.classes_), mean, scale,
                        estimator.coef_, estimator.intercept_)  # fmt: skip
    report = {"C": best[0], "cv_hit_at_1": round(best[1], 3),
              "in_sample_hit_at_1": round(top1(estimator.predict_proba(z)[:, 0]), 3),
              "questions": len(questions), "rows": len(rows), "folds": len(folds)}  # fmt: skip
    return model, report, best[2]


async def _faq_ranker(corpora: list[tuple[TrainingCorpus, KnowledgeBase]]) -> tuple[LinearModel, dict[str, Any]]:
    """The FAQ ranker, on every labelled answerable question of the training corpora, and on the
    in-domain questions no article answers, whose every candidate is wrong: the probability of the
    first hit then also says whether anything answers, which the answer gate reads."""
    rows: list[list[float]] = []
    labels: list[str] = []
    groups: list[int] = []
    names: list[str] = []
    fusion_right = 0  # the hand-set convex fusion the ranker replaces, on the same questions
    question = 0
    for corpus, kb in corpora:
        queries = [*corpus.faq_queries, *((text, ()) for text in corpus.unanswerable)]
        for text, right in queries:
            question += 1
            fusion_right += [h.article_id for h in await kb.faq_search(text, 1)] in ([r] for r in right)
            for article, values in (await asyncio.to_thread(kb.faq_candidates, text)).items():
                rows.append([values[name] for name in FAQ_RANKER_FEATURES])
                labels.append(RIGHT_ARTICLE if article in right else "wrong")
                groups.append(question)
                names.append(corpus.name)
    model, report, _ = _fit_ranker(rows, labels, groups, names, FAQ_RANKER_FEATURES)
    report["fusion_hit_at_1"] = round(fusion_right / report["questions"], 3)
    return model, report


async def _niche_ranker(
    corpora: list[tuple[TrainingCorpus, KnowledgeBase]],
) -> tuple[LinearModel, dict[str, Any], dict[tuple[str, str], list[tuple[str, float]]]]:
    """The niche ranker, on every labelled niche request. Also returns each request's candidates
    ordered by their out-of-fold probability, for ``_niche_confidence``."""
    rows: list[list[float]] = []
    labels: list[str] = []
    groups: list[int] = []
    owners: list[tuple[tuple[str, str], str]] = []  # ((corpus, request), candidate) of each row
    question = 0
    for corpus, kb in corpora:
        for text, niche in corpus.niche_queries:
            question += 1
            for candidate, values in (await asyncio.to_thread(kb.niche_candidates, text)).items():
                rows.append([values[name] for name in NICHE_RANKER_FEATURES])
                labels.append(RIGHT_NICHE if candidate == niche else "wrong")
                groups.append(question)
                owners.append(((corpus.name, text), candidate))
    corpora_of = [request[0] for request, _ in owners]
    model, report, oof = _fit_ranker(rows, labels, groups, corpora_of, NICHE_RANKER_FEATURES)
    rankings: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for (request, candidate), p in zip(owners, oof, strict=True):
        rankings.setdefault(request, []).append((candidate, float(p)))
    for scored in rankings.values():
        scored.sort(key=lambda item: item[1], reverse=True)
    return model, report, rankings


async def _niche_confidence(
    corpora: list[tuple[TrainingCorpus, KnowledgeBase]], rankings: dict[tuple[str, str], list[tuple[str, float]]]
) -> tuple[LinearModel | None, float | None, dict[str, Any]]:
    """Whether the ranker's first niche is right, on the requests the exact, fuzzy and semantic steps
    leave to it (their out-of-fold rankings). The threshold is above the out-of-fold confidence of
    every wrong first candidate: on the training corpora, nothing wrong is ever answered."""
    rows, labels, names = [], [], []
    for corpus, kb in corpora:
        for text, niche in corpus.niche_queries:
            resolution = await kb.resolve_niche(text)
            scored = rankings.get((corpus.name, text))
            if resolution.niche is None and resolution.candidates and scored:
                values = confidence_features(scored, kb.niche_closeness)
                rows.append([values[name] for name in CONFIDENCE_FEATURES])
                labels.append(RIGHT_NICHE if scored[0][0] == niche else "wrong")
                names.append(corpus.name)
    if len(set(labels)) < 2 or min(labels.count(label) for label in set(labels)) < FOLDS:
        return None, None, {"ranked": len(labels)}  # too few of one kind for out-of-fold confidences
    x, y = np.array(rows), np.array(labels)
    model, report, oof = _fit(x, y, CONFIDENCE_FEATURES, _folds(y, np.array(names)))
    right = oof[:, model.classes.index(RIGHT_NICHE)]
    threshold = float(right[y == "wrong"].max()) + CONFIDENCE_MARGIN
    answered = right >= threshold
    report |= {"ranked": len(labels), "first_right": int((y == RIGHT_NICHE).sum()), "threshold": round(threshold, 4),
               "would_answer_right": int((answered & (y == RIGHT_NICHE)).sum()),
               "would_answer_wrong": int((answered & (y != RIGHT_NICHE)).sum())}  # fmt: skip
    return model, (round(threshold, 4) if threshold <= 1.0 else None), report


def _per_corpus(hits: np.ndarray, corpus_of: np.ndarray) -> dict[str, float]:
    """The share of true ``hits`` among each corpus's rows (``corpus_of``: the corpus of each row)."""
    return {str(c): round(float(hits[corpus_of == c].mean()), 3) for c in np.unique(corpus_of)}


async def _router(corpora: list[tuple[TrainingCorpus, KnowledgeBase]]) -> tuple[MeanOf, dict[str, Any]]:
    rows, labels, names = [], [], []
    for corpus, kb in corpora:
        offline = build_offline_model(kb, kb.encode_queries)
        for case in corpus.routing:
            state = dict(case.get("state") or {})
            funnel = FunnelState(stage=state.get("funnel_stage"), contact=state.get("contact"))
            if looks_like_funnel_answer(case["text"], funnel):
                continue  # the engine settles it; the router never decides it
            found = await offline.router.evidence(case["text"], context_of(state), offline.niche_probe)
            if isinstance(found, Route):
                continue
            values, _ = found
            rows.append([values.get(name, 0.0) for name in FEATURES])
            labels.append(case["scenario"])
            names.append(corpus.name)
    x, y, corpus_of = np.array(rows), np.array(labels), np.array(names)
    folds = _folds(y, corpus_of)
    linear, linear_report, linear_oof = _fit(x, y, FEATURES, folds)
    trees, trees_report, trees_oof = _fit_trees(x, y, FEATURES, folds)
    assert linear.classes == trees.classes
    right = np.array(linear.classes)[((linear_oof + trees_oof) / 2).argmax(axis=1)] == y
    report = {"cv_accuracy": round(float(right.mean()), 3), "cv_accuracy_per_corpus": _per_corpus(right, corpus_of),
              "linear": linear_report, "trees": trees_report, "folds": len(folds)}  # fmt: skip
    model = MeanOf((linear, trees))
    report["messages"] = len(labels)
    report["per_scenario"] = {s: labels.count(s) for s in SCENARIOS}
    return model, report


async def _answer_gate(
    corpora: list[tuple[TrainingCorpus, KnowledgeBase]],
) -> tuple[LinearModel, float, dict[str, Any]]:
    rows, labels, owners = [], [], []
    names: tuple[str, ...] = ()
    for corpus, kb in corpora:
        for text, label in [(t, "answer") for t in corpus.answered] + [(t, "none") for t in corpus.unanswerable]:
            values = gate_features(await kb.faq_lookup(text, MAX_SOURCES))
            names = tuple(values)
            rows.append([values[n] for n in names])
            labels.append(label)
            owners.append(corpus.name)
    x, y, corpus_of = np.array(rows), np.array(labels), np.array(owners)
    # The threshold is read off out-of-fold probabilities: in-sample ones are optimistic, and a
    # threshold set on them refuses more answerable questions on a corpus the gate has not seen.
    model, report, oof = _fit(x, y, names, _folds(y, corpus_of))
    p_answer = oof[:, model.classes.index("answer")]
    positives = np.sort(p_answer[y == "answer"])
    threshold = float(positives[int(np.floor(MAX_REFUSED * len(positives)))]) - 1e-6
    report |= {
        "threshold": round(threshold, 4),
        "answerable_refused": round(float((p_answer[y == "answer"] < threshold).mean()), 3),
        "unanswerable_caught": round(float((p_answer[y == "none"] < threshold).mean()), 3),
        "unanswerable_caught_per_corpus": _per_corpus(p_answer[y == "none"] < threshold, corpus_of[y == "none"]),
        "answerable": int((y == "answer").sum()),
        "unanswerable": int((y == "none").sum()),
    }
    return model, threshold, report


async def _source_ratio(corpora: list[tuple[TrainingCorpus, KnowledgeBase]]) -> tuple[float, dict[str, Any]]:
    ranked, wanted = [], []
    for corpus, kb in corpora:
        for text, right in corpus.faq_queries:
            hits = await kb.faq_search(text, MAX_SOURCES)
            ranked.append(([h.article_id for h in hits], [h.score for h in hits]))
            wanted.append(set(right))

    def among(ratio: float) -> tuple[float, float]:
        hit, shown = 0, 0
        for (ids, scores), want in zip(ranked, wanted, strict=True):
            keep = [i for i, s in zip(ids, scores, strict=True) if s >= ratio * scores[0]] if ids else []
            hit += bool(want & set(keep))
            shown += len(keep)
        return hit / len(wanted), shown / len(wanted)

    first, _ = among(1.0)
    three, _ = among(0.0)
    goal = first + SOURCE_GAIN * (three - first)
    ratio = max(r for r in np.arange(0.05, 1.0001, 0.01) if among(float(r))[0] >= goal - 1e-9)
    hit, shown = among(float(ratio))
    report = {"hit_first": round(first, 3), "hit_top3": round(three, 3), "ratio": round(float(ratio), 2),
              "hit_shown": round(hit, 3), "mean_shown": round(shown, 2), "queries": len(wanted)}  # fmt: skip
    return round(float(ratio), 2), report


async def _open(corpus: TrainingCorpus, embedder: str, var_root: Path) -> KnowledgeBase:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        ENVIRONMENT="test",
        VAR_DIR=var_root / f"calibrate-{embedder}-{corpus.name}",
        EMBEDDINGS_MODEL=EMBEDDERS[embedder],
        FAQ_CORPUS_DIR=corpus.faq,
        ANALYTICS_CORPUS_DIR=corpus.niches,
        CALIBRATION_PATH=var_root / "no-calibration.json",  # fit on the uncalibrated pipeline
    )
    await asyncio.to_thread(build_index, settings)
    return await KnowledgeBase.open(settings)


async def calibrate(
    embedder: str, var_root: Path, training: list[TrainingCorpus]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Fit in stages, each on the pipeline the earlier stages shape: the ranker orders the hits the
    router's index signals, the gate and the source rule read."""
    corpora = [(corpus, await _open(corpus, embedder, var_root)) for corpus in training]
    ranker, ranker_report = await _faq_ranker(corpora)
    niche_ranker, niche_report, rankings = await _niche_ranker(corpora)
    for _, kb in corpora:
        kb.recalibrate(Calibration(faq_ranker=ranker, niche_ranker=niche_ranker))
    confidence, confident_at, confidence_report = await _niche_confidence(corpora, rankings)
    fitted = Calibration(
        faq_ranker=ranker, niche_ranker=niche_ranker, niche_confidence=confidence, niche_confident_at=confident_at
    )
    for _, kb in corpora:
        kb.recalibrate(fitted)
    router, router_report = await _router(corpora)
    gate, threshold, gate_report = await _answer_gate(corpora)
    ratio, source_report = await _source_ratio(corpora)
    entry = {
        "fitted_on": ", ".join(f"corpus {c.name.upper()}" for c in training),
        "router": router.to_dict(),
        "faq_ranker": ranker.to_dict(),
        "answer_gate": gate.to_dict(),
        "gate_threshold": round(threshold, 4),
        "source_ratio": ratio,
        "niche_ranker": niche_ranker.to_dict(),
        "niche_confidence": confidence.to_dict() if confidence else None,
        "niche_confident_at": confident_at,
    }
    report = {"faq_ranker": ranker_report, "niche_ranker": niche_report | {"confidence": confidence_report}, "router": router_report, "answer_gate": gate_report,
              "sources": source_report}  # fmt: skip
    return corpora[0][1].embedder.model_id, entry, report


def _json(entries: dict[str, Any]) -> str:
    """One line per fitted decision: a refit's diff shows which decisions changed, not thousands of
    lines of tree nodes."""
    models = [
        f"{json.dumps(model_id)}: {{\n"
        + ",\n".join(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items())
        + "\n }"
        for model_id, entry in entries.items()
    ]
    return "{\n " + ",\n ".join(models) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), action="append")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--corpus",
        default=TRAINING,
        help=f"training corpora, one letter each: {TRAINING} (the default) or some of them (never b, g, h or i)",
    )
    parser.add_argument("--var-dir", type=Path, default=ROOT_DIR / "var")
    args = parser.parse_args(argv)
    if not args.corpus or set(args.corpus) - set(TRAINING):
        parser.error(f"--corpus takes letters of {TRAINING!r}")
    training = training_corpora(args.corpus)
    entries: dict[str, Any] = json.loads(args.out.read_text("utf-8")) if args.out.exists() else {}
    for embedder in args.embedder or sorted(EMBEDDERS):
        model_id, entry, report = asyncio.run(calibrate(embedder, args.var_dir, training))
        entries[model_id] = entry
        print(json.dumps({"embedder": embedder, "model_id": model_id, **report}, ensure_ascii=False, indent=2))
    args.out.write_text(_json(entries), encoding="utf-8")
    print(f"==> wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
