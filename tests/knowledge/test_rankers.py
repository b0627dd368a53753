"""The fitted rankers: what they read, how the shipped calibration applies them, and that fitting
them (``scripts.eval.calibrate``) works end to end on a real index.

Quality is measured by ``scripts.eval.chat_eval`` on corpus B (BENCHMARKS.md); these tests check the
mechanics: features comparable across corpora, probabilities that order the hits, a real tie
between near-synonymous niches, and a fit that refuses to answer a niche it got wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.calibration import Calibration, TreeEnsemble, load_calibration
from backend.knowledge.faq_ranking import FEATURES, FaqTerms, candidate_features
from backend.knowledge.niches import confidence_features
from backend.knowledge.service import KnowledgeBase
from scripts.eval import calibrate

CALIBRATION = ROOT_DIR / "scenario" / "calibration.json"


def test_candidate_features_are_relative_to_the_question() -> None:
    terms = FaqTerms.build(
        body={"1": frozenset({"тариф"}), "2": frozenset({"тариф", "цен"}), "3": frozenset({"доставк"})},
        head={"1": frozenset({"тариф"}), "2": frozenset(), "3": frozenset()},
        sentences={"1": (frozenset({"тариф"}),), "2": (frozenset({"тариф"}), frozenset({"цен", "x"}))},
    )
    found = candidate_features(
        by_kind={"1": {"title": 0.8, "body": 0.5}, "2": {"summary": 0.4}},
        lexical={"2": 6.0, "3": 3.0},
        wanted=frozenset({"тариф", "цен"}),
        terms=terms,
        floor=0.1,
    )
    assert set(found) == {"1", "2", "3"} and all(set(v) == set(FEATURES) for v in found.values())
    assert found["1"]["dense"] == 0.8 and found["1"]["dense_gap"] == 0.0 and found["1"]["dense_summary"] == 0.1
    assert found["2"]["lexical_share"] == 1.0 and found["3"]["lexical_share"] == 0.5
    assert found["3"]["dense"] == 0.1 and found["3"]["dense_rank"] < found["2"]["dense_rank"]
    assert found["2"]["coverage"] == 1.0 and found["1"]["head_coverage"] == 0.5
    # the words are in article 2, but no one sentence of it holds both
    assert found["2"]["sentence_coverage"] == 0.5 and found["3"]["sentence_coverage"] == 0.0
    assert found["1"]["coverage_gap"] == -0.5 and found["2"]["sentence_gap"] == 0.0
    # "тариф" is in two of the three articles, "цен" in one: holding "тариф" alone is less than half
    assert 0.0 < found["1"]["weighted_coverage"] < 0.5 < found["2"]["weighted_sentence_coverage"] < 1.0


def test_a_near_synonymous_rival_is_a_tie() -> None:
    close = {"Шторы на заказ": {"Пошив штор": 0.9, "Автомойки": 0.1}}

    def closeness(niche: str, rivals: list[str]) -> float:
        return max(close[niche].get(r, 0.0) for r in rivals)

    tie = confidence_features([("Шторы на заказ", 0.9), ("Пошив штор", 0.1)], closeness)
    clear = confidence_features([("Шторы на заказ", 0.9), ("Автомойки", 0.1)], closeness)
    assert tie["lead"] == clear["lead"] == pytest.approx(0.8)
    assert tie["tie"] == 0.9 and clear["tie"] == 0.1
    assert confidence_features([], closeness) == {"first": 0.0, "lead": 0.0, "tie": 0.0}


# Five niches that share the message's word "кофе" equally: the name-word ranking ties them all.
TIED_RANKING = """
from backend.knowledge.niches import NicheResolver
from backend.knowledge.schemas import NicheRecord, Table
table = Table(columns=["a"], rows=[["1"]])
names = ["Кофе в зёрнах", "Кофе молотый", "Кофе в капсулах", "Кофе растворимый", "Кофе дрип-пакеты"]
resolver = NicheResolver([NicheRecord(niche=n, analytics="-", table=table) for n in names], lambda _t, _k: [])
print(resolver.candidates("кофе оптом"))
"""


def test_the_niche_ranking_does_not_depend_on_the_process() -> None:
    """Two API workers (or two calibration runs) rank a message alike: ties are not left to the
    per-process hash order of Python's sets."""
    seen = {
        subprocess.run(
            [sys.executable, "-c", TIED_RANKING],
            cwd=ROOT_DIR,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert len(seen) == 1, seen


@pytest.mark.parametrize("model_id", ["local:use-multilingual-v3", "local:multilingual-e5-small-q4"])
def test_the_shipped_calibration_has_every_fitted_decision(model_id: str) -> None:
    raw = json.loads(CALIBRATION.read_text("utf-8"))[model_id]
    assert all(f"corpus {name}" in raw["fitted_on"] for name in "ACDE")
    fitted = load_calibration(CALIBRATION, model_id)
    assert fitted.router and fitted.faq_ranker and fitted.niche_ranker and fitted.answer_gate
    assert fitted.faq_ranker.features == FEATURES
    assert 0.0 < fitted.source_ratio < 1.0


async def test_the_faq_ranker_orders_hits_by_its_probability(demo_settings: Settings) -> None:
    kb = await KnowledgeBase.open(demo_settings)
    assert kb.calibration.faq_ranker is not None
    hits = await kb.faq_search("сколько стоит тариф и что в него входит", 5)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    kb.recalibrate(Calibration())  # without the ranker: the convex fusion of scaled cosines and BM25
    fused = await kb.faq_search("сколько стоит тариф и что в него входит", 5)
    assert [h.score for h in fused] != scores and fused[0].score >= 0.5


async def test_calibrate_fits_every_decision_on_a_real_index(tmp_path: Path) -> None:
    """The whole fit on corpus A (C is left out to keep it short): every stage produces a decision
    the product loads, and the niche confidence never answers a first candidate it got wrong."""
    model_id, entry, report = await calibrate.calibrate("use", tmp_path, [calibrate.corpus_a()])
    fitted = Calibration.from_dict(entry)
    assert model_id == "local:use-multilingual-v3"
    assert fitted.router and fitted.faq_ranker and fitted.niche_ranker and fitted.answer_gate
    assert report["faq_ranker"]["cv_hit_at_1"] >= 0.8
    assert report["niche_ranker"]["confidence"].get("would_answer_wrong", 0) == 0
    assert report["answer_gate"]["answerable_refused"] <= calibrate.MAX_REFUSED


@pytest.mark.parametrize("classes", [2, 4])
def test_exported_trees_give_scikit_learns_probabilities(classes: int) -> None:
    """The router's trees leave scikit-learn as plain arrays; applied with numpy they give the same
    probabilities, also for rows the fit never saw and for values exactly at a split threshold."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 5))
    y = np.array(["ANALYTICS", "FAQ", "OFFTOPIC", "REGISTRATION"][:classes])[
        (x[:, 0] > 0).astype(int) + (x[:, 1] * x[:, 2] > 0.3).astype(int) * (classes - 2)
    ]
    features = tuple(f"f{i}" for i in range(5))
    estimator = HistGradientBoostingClassifier(**calibrate.TREES, random_state=0).fit(x, y)
    model = TreeEnsemble.from_dict(json.loads(json.dumps(calibrate._trees(estimator, features).to_dict())))
    inner = model.left != np.arange(len(model.left))
    splits = [model.threshold[inner & (model.feature == i)] for i in range(5)]
    at_splits = np.array(  # each value exactly a threshold some node tests that input against, if any
        [[rng.choice(t) if len(t) else 0.0 for t in splits] for _ in range(100)]
    )
    fresh = np.vstack([rng.normal(size=(200, 5)), at_splits])
    mine = [
        [model.probabilities(dict(zip(features, row, strict=True)))[c] for c in estimator.classes_] for row in fresh
    ]
    assert model.classes == tuple(estimator.classes_)
    assert np.allclose(mine, estimator.predict_proba(fresh), atol=1e-9)
