"""Retrieval evaluation of the knowledge layer on the DEMO corpora.

    python -m scripts.eval.knowledge_eval [--embedder use|e5] [--misses] [--json]

Builds a throwaway index of ``faq/`` and ``analytic/niches/`` in a temp dir, then prints FAQ
hit@1 / hit@5 / MRR@10 for dense-only, lexical-only and hybrid retrieval, niche accuracy of
``resolve_niche``, latency p50/p95 of ``faq_search`` and ``analytics_get_by_niche``, full and
no-change reindex times and the process RSS. The query sets live in ``tests/knowledge/data``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.embeddings import E5Embedder, Embedder, LocalEmbedder
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase

DATA_DIR = ROOT_DIR / "tests" / "knowledge" / "data"
DEMO_FAQ_DIR = ROOT_DIR / "faq"
DEMO_ANALYTICS_DIR = ROOT_DIR / "analytic" / "niches"
MODES = ("dense", "lexical", "hybrid")


def load_queries(name: str) -> list[dict[str, str]]:
    data = yaml.safe_load((DATA_DIR / name).read_text(encoding="utf-8"))
    return [{k: str(v) for k, v in item.items()} for item in data["queries"]]


def eval_settings(root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ENVIRONMENT": "test",
        "VAR_DIR": root / "var",
        "KNOWLEDGE_DIR": root / "index",
        "CHROMA_DIR": root / "chroma",
        "FAQ_CORPUS_DIR": DEMO_FAQ_DIR,
        "ANALYTICS_CORPUS_DIR": DEMO_ANALYTICS_DIR,
        "EMBEDDINGS_PROVIDER": "local",
        "CHROMA_HOST": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_embedder(name: str) -> Embedder:
    return LocalEmbedder() if name == "use" else E5Embedder()


@dataclass
class RankMetrics:
    n: int = 0
    hit1: float = 0.0
    hit5: float = 0.0
    mrr: float = 0.0
    misses: list[str] = field(default_factory=list)  # query -> expected, got (top-3)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [hits@1, total]


def rank_metrics(results: Sequence[tuple[dict[str, str], list[str]]], key: str) -> RankMetrics:
    """``results``: (query item, ranked ids) pairs; MRR is cut at 10."""
    metrics = RankMetrics(n=len(results))
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, ranked in results:
        expected = item[key]
        rank = ranked.index(expected) + 1 if expected in ranked[:10] else 0
        metrics.hit1 += rank == 1
        metrics.hit5 += 0 < rank <= 5
        metrics.mrr += 1.0 / rank if rank else 0.0
        kinds[item.get("kind", "-")][0] += rank == 1
        kinds[item.get("kind", "-")][1] += 1
        if rank != 1:
            metrics.misses.append(f"{item['query']!r}: want {expected}, got {ranked[:3]}")
    if results:
        metrics.hit1 /= len(results)
        metrics.hit5 /= len(results)
        metrics.mrr /= len(results)
    metrics.by_kind = dict(kinds)
    return metrics


async def evaluate_faq(kb: KnowledgeBase, queries: list[dict[str, str]], mode: str) -> RankMetrics:
    results = []
    for item in queries:
        hits = await kb.faq_search(item["query"], 10, mode=mode)
        results.append((item, [h.article_id for h in hits]))
    return rank_metrics(results, "article_id")


@dataclass
class NicheMetrics:
    n: int = 0
    accuracy: float = 0.0  # confident niche or first candidate is right
    confident: float = 0.0  # share resolved confidently
    confident_wrong: int = 0  # confidently resolved to a wrong niche (the costly error)
    in_shortlist: float = 0.0  # right niche among the first 5 shown
    misses: list[str] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)


async def evaluate_niches(kb: KnowledgeBase, queries: list[dict[str, str]]) -> NicheMetrics:
    metrics = NicheMetrics(n=len(queries))
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in queries:
        resolution = await kb.resolve_niche(item["query"])
        shown = [resolution.niche] if resolution.niche else [c.niche for c in resolution.candidates[:5]]
        first = shown[0] if shown else None
        ok = first == item["niche"]
        metrics.accuracy += ok
        metrics.confident += resolution.niche is not None
        metrics.confident_wrong += resolution.niche is not None and not ok
        metrics.in_shortlist += item["niche"] in shown
        kinds[item.get("kind", "-")][0] += ok
        kinds[item.get("kind", "-")][1] += 1
        if not ok:
            how = f"confident ({resolution.method})" if resolution.niche else "shortlist"
            metrics.misses.append(f"{item['query']!r}: want {item['niche']}, got {how} {shown[:3]}")
    if queries:
        metrics.accuracy /= len(queries)
        metrics.confident /= len(queries)
        metrics.in_shortlist /= len(queries)
    metrics.by_kind = dict(kinds)
    return metrics


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def latencies_ms(call: Callable[[str], Awaitable[Any]], texts: Sequence[str], rounds: int) -> dict[str, float]:
    """Wall-clock per call, and the CPU time the whole process spent on it (other processes on a
    busy machine inflate the first, hardly the second)."""
    for text in texts[:5]:
        await call(text)  # warm-up
    samples, cpu = [], []
    for _ in range(rounds):
        for text in texts:
            started, cpu_started = time.perf_counter(), time.process_time()
            await call(text)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    return {
        "p50": round(statistics.median(samples), 2),
        "p95": round(percentile(samples, 0.95), 2),
        "max": round(max(samples), 2),
        "cpu_p50": round(statistics.median(cpu), 2),
        "cpu_p95": round(percentile(cpu, 0.95), 2),
        "n": len(samples),
    }


def rss_mb() -> dict[str, float]:
    current = 0.0
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_mb": round(current, 1), "peak_rss_mb": round(peak, 1)}


async def run(embedder_name: str, rounds: int, index_dir: Path | None = None) -> dict[str, Any]:
    faq_queries = load_queries("faq_queries.yaml")
    niche_queries = load_queries("niche_queries.yaml")
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "embedder": embedder_name,
        "load_average_before": round(os.getloadavg()[0], 2),
        "faq_queries": len(faq_queries),
        "niche_queries": len(niche_queries),
    }
    with tempfile.TemporaryDirectory(prefix="knowledge-eval-") as tmp:
        settings = eval_settings(index_dir or Path(tmp))
        started = time.perf_counter()
        embedder = make_embedder(embedder_name)
        report["embedder_load_s"] = round(time.perf_counter() - started, 2)
        summary = build_index(settings, embedder=embedder)
        report["full_reindex_s"] = round(summary.seconds, 2)
        report["full_reindex_embedded"] = summary.embedded
        report["noop_reindex_s"] = round(build_index(settings, embedder=embedder).seconds, 3)
        forced = build_index(settings, embedder=embedder, force=True)  # everything from the embedding cache
        report["forced_cached_reindex_s"] = round(forced.seconds, 2)
        kb = await KnowledgeBase.open(settings, embedder=embedder)
        report["faq"] = {mode: asdict(await evaluate_faq(kb, faq_queries, mode)) for mode in MODES}
        report["niches"] = asdict(await evaluate_niches(kb, niche_queries))
        report["latency_ms"] = {
            "faq_search": await latencies_ms(lambda t: kb.faq_search(t, 5), [q["query"] for q in faq_queries], rounds),
            "resolve_niche": await latencies_ms(kb.resolve_niche, [q["query"] for q in niche_queries], rounds),
            "analytics_get_by_niche": await latencies_ms(
                kb.analytics_get_by_niche, [q["query"] for q in niche_queries], rounds
            ),
        }
        report["memory"] = rss_mb()
    report["load_average_after"] = round(os.getloadavg()[0], 2)
    return report


def print_report(report: dict[str, Any], show_misses: bool) -> None:
    print(f"# knowledge eval — {report['date']} — {report['machine']} — embedder {report['embedder']}")
    print(f"queries: {report['faq_queries']} FAQ, {report['niche_queries']} niche")
    print(f"1-min load average: {report['load_average_before']} before, {report['load_average_after']} after")
    print("\nFAQ retrieval      hit@1   hit@5   MRR@10")
    for mode in MODES:
        m = report["faq"][mode]
        print(f"  {mode:<15} {m['hit1']:.3f}   {m['hit5']:.3f}   {m['mrr']:.3f}")
    kinds = report["faq"]["hybrid"]["by_kind"]
    print("  hybrid hit@1 by kind: " + ", ".join(f"{k} {h}/{t}" for k, (h, t) in sorted(kinds.items())))
    n = report["niches"]
    print(
        f"\nniche accuracy {n['accuracy']:.3f} (confident {n['confident']:.2f}, "
        f"confidently wrong {n['confident_wrong']}, right niche shown {n['in_shortlist']:.3f})"
    )
    print("  by kind: " + ", ".join(f"{k} {h}/{t}" for k, (h, t) in sorted(n["by_kind"].items())))
    print("\nlatency (ms)          p50     p95     max     cpu p50  cpu p95  samples")
    for name, lat in report["latency_ms"].items():
        print(
            f"  {name:<22} {lat['p50']:<7} {lat['p95']:<7} {lat['max']:<7} {lat['cpu_p50']:<8} {lat['cpu_p95']:<8} {lat['n']}"
        )
    print(
        f"\nindex: full reindex {report['full_reindex_s']} s ({report['full_reindex_embedded']} texts embedded), "
        f"no-change reindex {report['noop_reindex_s']} s, forced reindex from cache {report['forced_cached_reindex_s']} s; "
        f"embedder load {report['embedder_load_s']} s"
    )
    mem = report["memory"]
    print(f"memory: RSS {mem['rss_mb']} MB, peak {mem['peak_rss_mb']} MB")
    if show_misses:
        for mode in MODES:
            print(f"\nFAQ misses at 1 ({mode}):")
            for line in report["faq"][mode]["misses"]:
                print("  " + line)
        print("\nniche misses:")
        for line in n["misses"]:
            print("  " + line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.eval.knowledge_eval", description=__doc__)
    parser.add_argument("--embedder", choices=["use", "e5"], default="use")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds over each query set")
    parser.add_argument("--misses", action="store_true", help="list the queries answered wrongly")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--index-dir", type=Path, help="keep the index (and its embedding cache) here")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.embedder, args.rounds, args.index_dir))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print_report(report, args.misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
