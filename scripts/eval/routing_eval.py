"""Routing evaluation of the offline assistant on the demo corpora index.

``python -m scripts.eval.routing_eval [--file PATH ...] [--show-heldout] [--json]``

For every labelled message it asks the real offline model for its scenario decision (with the
conversation state the case carries), applies the engine's server-side funnel override, and compares
with the label. Cases with ``article_id`` also check the FAQ article the offline model would answer
with (the first ``faq_search`` hit); cases with ``niche`` check ``analytics_get_by_niche``.

The main set is split: every 4th case (index % 4 == 3) is *held out* — it is never printed unless
``--show-heldout`` is given, so the router can be tuned on the rest without looking at it.
The index of the demo corpora is built once under ``var/eval`` (``--var-dir``) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backend.assistant.factory import build_offline_model
from backend.assistant.funnel import FunnelState, looks_like_funnel_answer
from backend.assistant.offline.model import OfflineChatModel
from backend.assistant.offline.router import SCENARIOS
from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase

DATA_DIR = ROOT_DIR / "tests" / "assistant" / "data"
MAIN_FILE = DATA_DIR / "routing_eval.yaml"
EXTRA_FILE = DATA_DIR / "routing_eval_extra.yaml"
DEFAULT_VAR_DIR = ROOT_DIR / "var" / "eval"
HELDOUT_EVERY = 4


@dataclass(frozen=True)
class Case:
    text: str
    scenario: str
    state: dict[str, Any]
    article_id: str | None
    niche: str | None
    split: str  # tuned | heldout | extra
    index: int


@dataclass
class Outcome:
    case: Case
    predicted: str
    reason: str
    article_id: str | None = None
    niche: str | None = None


@dataclass
class Summary:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def correct(self) -> int:
        return sum(o.predicted == o.case.scenario for o in self.outcomes)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def per_scenario(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.outcomes:
            counts[o.case.scenario][1] += 1
            counts[o.case.scenario][0] += o.predicted == o.case.scenario
        return {s: (counts[s][0], counts[s][1]) for s in SCENARIOS if counts[s][1]}

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter((o.case.scenario, o.predicted) for o in self.outcomes)

    def faq(self) -> tuple[int, int]:
        scored = [o for o in self.outcomes if o.case.article_id and o.case.scenario == "FAQ"]
        return sum(o.article_id == o.case.article_id for o in scored), len(scored)

    def niches(self) -> tuple[int, int]:
        scored = [o for o in self.outcomes if o.case.niche and o.case.scenario == "ANALYTICS"]
        return sum(o.niche == o.case.niche for o in scored), len(scored)


def load_cases(path: Path, split_main: bool) -> list[Case]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    cases = []
    for index, item in enumerate(raw):
        held_out = index % HELDOUT_EVERY == HELDOUT_EVERY - 1
        split = ("heldout" if held_out else "tuned") if split_main else "extra"
        cases.append(
            Case(
                text=str(item["text"]),
                scenario=str(item["scenario"]),
                state=dict(item.get("state") or {}),
                article_id=str(item["article_id"]) if item.get("article_id") else None,
                niche=item.get("niche"),
                split=split,
                index=index,
            )
        )
    return cases


def eval_settings(var_dir: Path) -> Settings:
    """The demo corpora (the defaults of FAQ_CORPUS_DIR / ANALYTICS_CORPUS_DIR) indexed under var_dir."""
    return Settings(_env_file=None, ENVIRONMENT="test", VAR_DIR=var_dir)  # type: ignore[call-arg]


async def open_demo_knowledge(var_dir: Path = DEFAULT_VAR_DIR) -> KnowledgeBase:
    settings = eval_settings(var_dir)
    await asyncio.to_thread(build_index, settings)  # a no-op when the corpora did not change
    return await KnowledgeBase.open(settings)


def context_of(state: dict[str, Any]) -> dict[str, Any]:
    """The session context the engine hands the model (see TurnEngine._messages)."""
    return {
        "authenticated": bool(state.get("authenticated", False)),
        "analytics_access": bool(state.get("analytics_access", False)),
        "funnel_stage": state.get("funnel_stage"),
        "funnel_has_contact": bool(state.get("contact")),
        "funnel_niche": state.get("funnel_niche"),
        "current_article_id": state.get("current_article_id"),
        "last_scenario": state.get("last_scenario"),
        "last_action": state.get("last_action"),
    }


async def decide(model: OfflineChatModel, text: str, state: dict[str, Any]) -> tuple[str, str, str | None]:
    """The scenario the product would run for this message: the model's route, then the engine's override.

    Also the niche the ANALYTICS tool call would be given (the probe's canonical title), if any.
    """
    route = await model.route(text, context_of(state))
    funnel = FunnelState(stage=state.get("funnel_stage"), contact=state.get("contact"), niche=state.get("funnel_niche"))
    if looks_like_funnel_answer(text, funnel):
        return "REGISTRATION", "engine: funnel answer", None
    return route.scenario, route.reason, route.niche


async def evaluate(cases: list[Case], model: OfflineChatModel, knowledge: KnowledgeBase) -> list[Outcome]:
    outcomes = []
    for case in cases:
        predicted, reason, niche = await decide(model, case.text, case.state)
        outcome = Outcome(case, predicted, reason)
        if case.article_id:
            hits = await knowledge.faq_search(case.text, 5)
            outcome.article_id = hits[0].article_id if hits else None
        if case.niche:  # what the ANALYTICS turn would show: the probe's niche, else the tool's resolution
            outcome.niche = (await knowledge.analytics_get_by_niche(niche or case.text)).niche
        outcomes.append(outcome)
    return outcomes


async def run(files: list[Path], var_dir: Path) -> dict[str, Summary]:
    knowledge = await open_demo_knowledge(var_dir)
    model = build_offline_model(knowledge, knowledge.encode_queries)
    cases = [c for path in files for c in load_cases(path, split_main=path.resolve() == MAIN_FILE.resolve())]
    outcomes = await evaluate(cases, model, knowledge)
    summaries = {name: Summary(name) for name in ("tuned", "heldout", "extra")}
    for outcome in outcomes:
        summaries[outcome.case.split].outcomes.append(outcome)
    main = Summary("main (tuned + heldout)", summaries["tuned"].outcomes + summaries["heldout"].outcomes)
    everything = Summary("all", outcomes)
    return {k: v for k, v in {**summaries, "main": main, "all": everything}.items() if v.total}


def _fraction(pair: tuple[int, int]) -> str:
    return f"{pair[0]}/{pair[1]} = {pair[0] / pair[1]:.3f}" if pair[1] else "n/a"


def report(summaries: dict[str, Summary], show_heldout: bool) -> str:
    lines = ["# Routing accuracy (offline router, demo corpora index)", ""]
    for summary in summaries.values():
        lines.append(f"{summary.name:<24} {_fraction((summary.correct, summary.total))}")
    overall = summaries["all"]
    lines += ["", "## Per scenario (recall), all sets"]
    for scenario, pair in overall.per_scenario().items():
        lines.append(f"  {scenario:<13} {_fraction(pair)}")
    lines += ["", "## Confusion matrix, all sets (rows: expected, columns: predicted)"]
    lines.append(" " * 14 + "".join(f"{s[:7]:>9}" for s in SCENARIOS))
    confusion = overall.confusion()
    for expected in SCENARIOS:
        lines.append(f"  {expected:<12}" + "".join(f"{confusion[(expected, p)]:>9}" for p in SCENARIOS))
    lines += ["", "## FAQ article (first faq_search hit) and niche accuracy, where labelled"]
    for summary in summaries.values():
        if summary.name in ("main (tuned + heldout)", "all"):
            continue
        lines.append(f"  {summary.name:<8} faq {_fraction(summary.faq())}   niche {_fraction(summary.niches())}")
    lines += ["", "## Misrouted" + ("" if show_heldout else " (held-out and extra cases hidden; --show-heldout)")]
    for outcome in overall.outcomes:
        wrong_route = outcome.predicted != outcome.case.scenario
        wrong_article = outcome.case.article_id and outcome.article_id != outcome.case.article_id
        wrong_niche = outcome.case.niche and outcome.niche != outcome.case.niche
        if not (wrong_route or wrong_article or wrong_niche):
            continue
        if outcome.case.split in ("heldout", "extra") and not show_heldout:
            continue
        state = f" state={outcome.case.state}" if outcome.case.state else ""
        detail = f"{outcome.case.scenario}->{outcome.predicted} ({outcome.reason})"
        if wrong_article:
            detail += f" article {outcome.case.article_id}->{outcome.article_id}"
        if wrong_niche:
            detail += f" niche {outcome.case.niche}->{outcome.niche}"
        lines.append(f"  [{outcome.case.split}#{outcome.case.index}] {outcome.case.text!r}{state}: {detail}")
    return "\n".join(lines)


def as_json(summaries: dict[str, Summary]) -> dict[str, Any]:
    return {
        name: {
            "accuracy": round(s.accuracy, 4),
            "correct": s.correct,
            "total": s.total,
            "faq": s.faq(),
            "niche": s.niches(),
        }
        for name, s in summaries.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.eval.routing_eval", description=__doc__)
    parser.add_argument("--file", type=Path, action="append", help="eval YAML (default: the main and extra sets)")
    parser.add_argument("--var-dir", type=Path, default=DEFAULT_VAR_DIR, help="where the demo index lives")
    parser.add_argument("--show-heldout", action="store_true", help="also print misrouted held-out and extra cases")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    files = args.file or [MAIN_FILE, EXTRA_FILE]
    started = time.perf_counter()
    summaries = asyncio.run(run(files, args.var_dir))
    if args.json:
        print(json.dumps(as_json(summaries), ensure_ascii=False, indent=2))
    else:
        print(report(summaries, args.show_heldout))
        print(f"\n({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
