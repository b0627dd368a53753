"""Fit the offline assistant's decisions on corpus A and write ``scenario/calibration.json``.

``python -m scripts.eval.calibrate [--embedder use|e5 ...] [--out PATH]``

For each embedding model (cosines of different models live on different scales) it indexes the demo
corpus (corpus A) and fits, with scikit-learn:

* ``router``: multinomial logistic regression over the routing features of ``OfflineRouter``
  (index evidence, nearest examples, intent cues), on A's labelled messages that the state and
  small-talk rules do not settle. C is chosen by 5-fold cross-validation; the out-of-fold accuracy
  is printed (the in-sample one too);
* ``answer_gate``: logistic regression telling answered questions (A's FAQ messages and retrieval
  queries) from in-domain questions no article answers (``unanswerable_a.yaml``); the threshold
  refuses at most ``MAX_REFUSED`` of A's answerable questions;
* ``source_ratio``: further articles are shown when their fused score is within this share of the
  first; the largest ratio that keeps ``SOURCE_GAIN`` of what showing three always would gain;
* ``niche_lead``: the shortlist's first niche is answered when it leads the second by this share;
  the smallest lead above every wrong first candidate on A, times ``LEAD_SAFETY``.

Everything here is fitted on corpus A only; corpus B (``eval/corpus_b``) is never read.
scikit-learn is a development dependency: the product applies the fitted numbers with numpy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from backend.assistant.factory import build_offline_model
from backend.assistant.funnel import FunnelState, looks_like_funnel_answer
from backend.assistant.offline.router import FEATURES, SCENARIOS, Route
from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.calibration import MAX_SOURCES, LinearModel, gate_features
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase
from scripts.eval.chat_eval import EMBEDDERS
from scripts.eval.routing_eval import context_of

DATA = ROOT_DIR / "tests" / "assistant" / "data"
KNOWLEDGE_DATA = ROOT_DIR / "tests" / "knowledge" / "data"
ROUTING_FILES = [DATA / "routing_eval.yaml", DATA / "routing_eval_extra.yaml", DATA / "unanswerable_a.yaml"]
OUT = ROOT_DIR / "scenario" / "calibration.json"
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
MAX_REFUSED = 0.03
SOURCE_GAIN = 0.9
LEAD_SAFETY = 1.25
SEED = 7


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def _fit(x: np.ndarray, y: np.ndarray, features: tuple[str, ...]) -> tuple[LinearModel, dict[str, Any]]:
    """Logistic regression with C chosen by cross-validated accuracy; returns the model and its report."""
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    best: tuple[float, float] | None = None
    for c in C_GRID:
        estimator = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        accuracy = float((cross_val_predict(estimator, z, y, cv=folds) == y).mean())
        if best is None or accuracy > best[1]:
            best = (c, accuracy)
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
    report = {"C": best[0], "cv_accuracy": round(best[1], 3), "in_sample_accuracy": round(estimator.score(z, y), 3)}
    return model, report


async def _router(kb: KnowledgeBase) -> tuple[LinearModel, dict[str, Any]]:
    offline = build_offline_model(kb, kb.encode_queries)
    rows, labels = [], []
    for path in ROUTING_FILES:
        for case in _yaml(path):
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
    model, report = _fit(np.array(rows), np.array(labels), FEATURES)
    report["messages"] = len(labels)
    report["per_scenario"] = {s: labels.count(s) for s in SCENARIOS}
    return model, report


async def _answer_gate(kb: KnowledgeBase) -> tuple[LinearModel, float, dict[str, Any]]:
    answered = [q["query"] for q in _yaml(KNOWLEDGE_DATA / "faq_queries.yaml")["queries"]]
    answered += [c["text"] for c in _yaml(DATA / "routing_eval.yaml") if c["scenario"] == "FAQ"]
    refused = [c["text"] for c in _yaml(DATA / "unanswerable_a.yaml")]
    rows, labels = [], []
    names: tuple[str, ...] = ()
    for text, label in [(t, "answer") for t in answered] + [(t, "none") for t in refused]:
        values = gate_features(await kb.faq_lookup(text, MAX_SOURCES))
        names = tuple(values)
        rows.append([values[n] for n in names])
        labels.append(label)
    x, y = np.array(rows), np.array(labels)
    model, report = _fit(x, y, names)
    p_answer = np.array([model.probabilities(dict(zip(names, row, strict=True)))["answer"] for row in x])
    positives = np.sort(p_answer[y == "answer"])
    threshold = float(positives[int(np.floor(MAX_REFUSED * len(positives)))]) - 1e-6
    report |= {
        "threshold": round(threshold, 4),
        "answerable_refused": round(float((p_answer[y == "answer"] < threshold).mean()), 3),
        "unanswerable_caught": round(float((p_answer[y == "none"] < threshold).mean()), 3),
        "answerable": int((y == "answer").sum()),
        "unanswerable": int((y == "none").sum()),
    }
    return model, threshold, report


async def _source_ratio(kb: KnowledgeBase) -> tuple[float, dict[str, Any]]:
    queries = _yaml(KNOWLEDGE_DATA / "faq_queries.yaml")["queries"]
    ranked = [([h.article_id for h in hits], [h.score for h in hits]) for hits in
              [await kb.faq_search(q["query"], MAX_SOURCES) for q in queries]]  # fmt: skip
    wanted = [str(q["article_id"]) for q in queries]

    def among(ratio: float) -> tuple[float, float]:
        hit, shown = 0, 0
        for (ids, scores), want in zip(ranked, wanted, strict=True):
            keep = [i for i, s in zip(ids, scores, strict=True) if s >= ratio * scores[0]] if ids else []
            hit += want in keep
            shown += len(keep)
        return hit / len(wanted), shown / len(wanted)

    first, _ = among(1.0)
    three, _ = among(0.0)
    goal = first + SOURCE_GAIN * (three - first)
    ratio = max(r for r in np.arange(0.3, 1.0001, 0.01) if among(float(r))[0] >= goal - 1e-9)
    hit, shown = among(float(ratio))
    report = {"hit_first": round(first, 3), "hit_top3": round(three, 3), "ratio": round(float(ratio), 2),
              "hit_shown": round(hit, 3), "mean_shown": round(shown, 2), "queries": len(wanted)}  # fmt: skip
    return round(float(ratio), 2), report


async def _niche_lead(kb: KnowledgeBase) -> tuple[float | None, dict[str, Any]]:
    cases = [
        (q["query"], q["niche"])
        for name in ("niche_queries.yaml", "niche_calibration_a.yaml")
        for q in _yaml(KNOWLEDGE_DATA / name)["queries"]
    ]
    cases += [(c["text"], c["niche"]) for path in ROUTING_FILES for c in _yaml(path) if c.get("niche")]
    right, wrong = [], []
    for text, niche in cases:
        resolution = await kb.resolve_niche(text)
        if resolution.niche is None and resolution.candidates and resolution.lead is not None:
            (right if resolution.candidates[0].niche == niche else wrong).append(resolution.lead)
    if not right:
        return None, {"shortlisted": 0}
    lead = round((max(wrong) if wrong else min(right)) * LEAD_SAFETY, 5)
    report = {"shortlisted": len(right) + len(wrong), "first_right": len(right), "first_wrong": len(wrong),
              "lead": lead, "would_answer_right": sum(v >= lead for v in right),
              "would_answer_wrong": sum(v >= lead for v in wrong)}  # fmt: skip
    return lead, report


async def calibrate(embedder: str, var_root: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        ENVIRONMENT="test",
        VAR_DIR=var_root / f"calibrate-{embedder}",
        EMBEDDINGS_MODEL=EMBEDDERS[embedder],
        CALIBRATION_PATH=var_root / "no-calibration.json",  # fit on the uncalibrated pipeline
    )
    await asyncio.to_thread(build_index, settings)
    kb = await KnowledgeBase.open(settings)
    router, router_report = await _router(kb)
    gate, threshold, gate_report = await _answer_gate(kb)
    ratio, source_report = await _source_ratio(kb)
    lead, lead_report = await _niche_lead(kb)
    entry = {
        "fitted_on": "corpus A (faq/, analytic/niches/, tests/assistant/data, tests/knowledge/data)",
        "router": router.to_dict(),
        "answer_gate": gate.to_dict(),
        "gate_threshold": round(threshold, 4),
        "source_ratio": ratio,
        "niche_lead": lead,
    }
    report = {"router": router_report, "answer_gate": gate_report, "sources": source_report, "niche": lead_report}
    return kb.embedder.model_id, entry, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), action="append")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--var-dir", type=Path, default=ROOT_DIR / "var")
    args = parser.parse_args(argv)
    entries: dict[str, Any] = json.loads(args.out.read_text("utf-8")) if args.out.exists() else {}
    for embedder in args.embedder or sorted(EMBEDDERS):
        model_id, entry, report = asyncio.run(calibrate(embedder, args.var_dir))
        entries[model_id] = entry
        print(json.dumps({"embedder": embedder, "model_id": model_id, **report}, ensure_ascii=False, indent=2))
    args.out.write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"==> wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
