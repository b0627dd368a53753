"""Operators' indexer: ``python -m scripts.reindex check|index|search``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from backend.core.config import get_settings
from backend.knowledge.exceptions import CorpusError
from backend.knowledge.indexer import build_index, load_corpora
from backend.knowledge.service import KnowledgeBase


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.reindex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("check", "validate the corpora only"), ("index", "validate, embed, switch atomically")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--faq-dir", type=Path, help="FAQ corpus directory (default: FAQ_CORPUS_DIR)")
        cmd.add_argument(
            "--analytics-dir", type=Path, help="analytics corpus directory (default: ANALYTICS_CORPUS_DIR)"
        )
        if name == "index":
            cmd.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    search = sub.add_parser("search", help="print the top results with scores")
    search.add_argument("collection", choices=["faq", "analytics"])
    search.add_argument("query")
    search.add_argument("-n", type=int, default=5)
    return parser


async def _search(collection: str, query: str, n: int) -> None:
    kb = await KnowledgeBase.open(get_settings())
    if collection == "faq":
        for hit in await kb.faq_search(query, n):
            print(f"{hit.score:.4f}  {hit.article_id}  {hit.title}")
        return
    resolution = await kb.resolve_niche(query, n)
    if resolution.niche:
        print(f"resolved ({resolution.method}): {resolution.niche}")
    for niche_hit in resolution.candidates or await kb.analytics_titles_search(query, n):
        print(f"{niche_hit.score:.4f}  {niche_hit.niche}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "check":
            faq_dir = args.faq_dir or settings.FAQ_CORPUS_DIR
            analytics_dir = args.analytics_dir or settings.ANALYTICS_CORPUS_DIR
            faq, niches = load_corpora(faq_dir, analytics_dir)
            print(f"ok: {len(faq)} FAQ articles in {faq_dir}, {len(niches)} niches in {analytics_dir}")
        elif args.command == "index":
            summary = build_index(
                settings, faq_dir=args.faq_dir, analytics_dir=args.analytics_dir, progress=True, force=args.force
            )
            print(summary.describe())
        else:
            asyncio.run(_search(args.collection, args.query, args.n))
    except CorpusError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return 0
