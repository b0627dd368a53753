"""Conversation repair, end to end over HTTP: the visitor says the answer missed, or was not understood.

``python -m scripts.eval.repair_eval [--kind missed|unclear] [--corpus b|c] [--phrases test|dev] [--json PATH]``

Every answerable FAQ question of the corpus's message set is asked in a conversation of its own, as a
guest, on the product indexed on that corpus (``chat_eval.Server``). Then the visitor replies with the
next phrase of a set a helper wrote without reading any code, and the reply is measured.

``--kind missed`` (``eval/corrections_<phrases>.yaml``, «это не то»), after a *wrong* first source:
* recovered: the right article is now the first source; among shown: it is among the new sources;
* handed over: the reply says there is no answer (it offers support instead of guessing);
* the same article again: the article that missed is shown first once more.

``--kind unclear`` (``eval/unclear_<phrases>.yaml``, «не понял»), after a *right* first source:
* stays: the same article is the first source again;
* says something new: the reply has a sentence the first answer did not.

Both report how often the phrase was read as small talk. ``dev`` phrases shaped the cues
(``cues.MISS_*``, ``cues.UNDERSTOOD``, ``PLAINER``, ``UNCLEAR_WORDS``); ``test`` phrases did not.
Corpus C's questions are training data, B's are held out; failing turns are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from backend.core.config import ROOT_DIR
from backend.knowledge.units import sentences
from scripts.eval.chat_eval import CORPORA, EMBEDDERS, Case, Server, chat, load_cases, publish, share

CONCURRENCY = 4
PHRASES = {"missed": "corrections", "unclear": "unclear"}


@dataclass(frozen=True)
class Repair:
    case: Case
    first: dict[str, Any]
    after: dict[str, Any] | None  # None: this kind of repair did not apply to the first answer


def _sources(reply: dict[str, Any]) -> list[str]:
    return [str(s.get("article_id")) for s in reply.get("sources") or []]


def _applies(kind: str, case: Case, first: dict[str, Any]) -> bool:
    shown = _sources(first)
    if first.get("scenario") != "FAQ" or not shown:
        return False
    return (shown[0] in case.article_ids) == (kind == "unclear")


async def _ask(server: Server, kind: str, case: Case, phrase: str) -> Repair:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        (await client.get("/auth/session")).raise_for_status()
        first = await chat(client, case.text)
        if not _applies(kind, case, first):
            return Repair(case, first, None)
        return Repair(case, first, await chat(client, phrase))


async def play(server: Server, kind: str, cases: list[Case], phrases: list[str]) -> list[Repair]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int, case: Case) -> Repair:
        async with gate:
            return await _ask(server, kind, case, phrases[n % len(phrases)])

    return list(await asyncio.gather(*(one(n, case) for n, case in enumerate(cases))))


def _says_something_new(first: dict[str, Any], after: dict[str, Any]) -> bool:
    said = str(first.get("reply") or "")
    return any(s not in said for s in sentences(str(after.get("reply") or "")) if len(s) > 2)


def measure(kind: str, played: list[Repair]) -> dict[str, Any]:
    pairs = [(p, p.after) for p in played if p.after is not None]
    report: dict[str, Any] = {"questions": len(played), "repairs": len(pairs)}
    if kind == "missed":
        report |= {
            "recovered": share(
                sum(bool(_sources(a)) and _sources(a)[0] in p.case.article_ids for p, a in pairs), len(pairs)
            ),
            "among_shown": share(sum(bool(set(_sources(a)) & set(p.case.article_ids)) for p, a in pairs), len(pairs)),
            "handed_over": share(sum(a.get("action") == "no_answer" for _, a in pairs), len(pairs)),
            "same_article_again": share(
                sum(bool(_sources(a)) and _sources(a)[:1] == _sources(p.first)[:1] for p, a in pairs), len(pairs)
            ),
        }
    else:
        report |= {
            "stays": share(sum(_sources(a)[:1] == _sources(p.first)[:1] for p, a in pairs), len(pairs)),
            "says_something_new": share(sum(_says_something_new(p.first, a) for p, a in pairs), len(pairs)),
        }
    report["small_talk"] = share(sum(a.get("scenario") == "OFFTOPIC" for _, a in pairs), len(pairs))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=sorted(PHRASES), default="missed")
    parser.add_argument("--corpus", choices=("b", "c"), default="b")
    parser.add_argument("--phrases", choices=("test", "dev"), default="test")
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="use")
    parser.add_argument("--port", type=int, default=8793)
    parser.add_argument("--json", type=Path, help="write the measures here (never the failing turns)")
    args = parser.parse_args(argv)
    corpus = CORPORA[args.corpus]
    cases = [c for c in load_cases(corpus["messages"]) if c.scenario == "FAQ" and c.answerable and c.article_ids]
    path = ROOT_DIR / "eval" / f"{PHRASES[args.kind]}_{args.phrases}.yaml"
    phrases = [str(p) for p in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    if not phrases:
        raise SystemExit(f"{path} holds no phrases")
    var_dir = ROOT_DIR / "var" / f"repair-eval-{args.corpus}-{args.embedder}"
    server = Server(faq=corpus["faq"], niches=corpus["niches"], var_dir=var_dir, port=args.port, embedder=args.embedder)
    started = time.perf_counter()
    played = server.serve(lambda running: play(running, args.kind, cases, phrases))
    sample = "in-sample: they shaped the cue" if args.phrases == "dev" else "out-of-sample"
    report = {
        "kind": args.kind,
        "corpus": args.corpus,
        "questions_sample": corpus["sample"],
        "phrases": f"{path.relative_to(ROOT_DIR)} ({sample})",
        "embedder": args.embedder,
        **measure(args.kind, played),
        "seconds": round(time.perf_counter() - started, 1),
    }
    publish(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
