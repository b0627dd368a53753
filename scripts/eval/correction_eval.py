"""What happens when a visitor says the answer missed their question, end to end over HTTP.

``python -m scripts.eval.correction_eval [--corpus b|c] [--phrases test|dev] [--json PATH]``

Every answerable FAQ question of the corpus's message set is asked in a conversation of its own, as a
guest, on the product indexed on that corpus (``chat_eval.Server``). When the answer's first source is
not the right article, the visitor says so with the next phrase of ``eval/corrections_<phrases>.yaml``
(«это не то», written by a helper who read no code) and the reply is measured:

* recovered: the right article is now the first source;
* among shown: the right article is among the new sources;
* handed over: the reply says there is no answer (it offers support instead of guessing);
* the same article again: the article that missed is shown first once more;
* small talk: the correction was not understood as one.

``dev`` phrases shaped the cue (``cues.MISS_MARK``, ``cues.MISS_WORDS``); ``test`` phrases did not.
Corpus C's questions are training data, B's are held out; failing turns are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from backend.core.config import ROOT_DIR
from scripts.eval.chat_eval import CORPORA, EMBEDDERS, Case, Server, chat, load_cases, share

CONCURRENCY = 4


@dataclass(frozen=True)
class Correction:
    case: Case
    first: dict[str, Any]
    after: dict[str, Any] | None  # None: the first answer was right (or refused), nothing to correct


def _sources(reply: dict[str, Any]) -> list[str]:
    return [str(s.get("article_id")) for s in reply.get("sources") or []]


async def _ask(server: Server, case: Case, phrase: str) -> Correction:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        (await client.get("/auth/session")).raise_for_status()
        first = await chat(client, case.text)
        shown = _sources(first)
        if first.get("scenario") != "FAQ" or not shown or shown[0] in case.article_ids:
            return Correction(case, first, None)
        return Correction(case, first, await chat(client, phrase))


async def play(server: Server, cases: list[Case], phrases: list[str]) -> list[Correction]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int, case: Case) -> Correction:
        async with gate:
            return await _ask(server, case, phrases[n % len(phrases)])

    return list(await asyncio.gather(*(one(n, case) for n, case in enumerate(cases))))


def measure(played: list[Correction]) -> dict[str, Any]:
    corrected = [p for p in played if p.after is not None]
    after = [(p, p.after) for p in corrected if p.after is not None]
    return {
        "questions": len(played),
        "answered_wrong_first": len(corrected),
        "recovered": share(
            sum(bool(_sources(a)) and _sources(a)[0] in p.case.article_ids for p, a in after), len(after)
        ),
        "among_shown": share(sum(bool(set(_sources(a)) & set(p.case.article_ids)) for p, a in after), len(after)),
        "handed_over": share(sum(a.get("action") == "no_answer" for _, a in after), len(after)),
        "same_article_again": share(
            sum(_sources(a)[:1] == _sources(p.first)[:1] for p, a in after if _sources(a)), len(after)
        ),
        "small_talk": share(sum(a.get("scenario") == "OFFTOPIC" for _, a in after), len(after)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("b", "c"), default="b")
    parser.add_argument("--phrases", choices=("test", "dev"), default="test")
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="use")
    parser.add_argument("--port", type=int, default=8793)
    parser.add_argument("--json", type=Path, help="write the measures here (never the failing turns)")
    args = parser.parse_args(argv)
    corpus = CORPORA[args.corpus]
    cases = [c for c in load_cases(corpus["messages"]) if c.scenario == "FAQ" and c.answerable and c.article_ids]
    phrases = [str(p) for p in yaml.safe_load((ROOT_DIR / "eval" / f"corrections_{args.phrases}.yaml").read_text())]
    var_dir = ROOT_DIR / "var" / f"correction-eval-{args.corpus}-{args.embedder}"
    server = Server(faq=corpus["faq"], niches=corpus["niches"], var_dir=var_dir, port=args.port, embedder=args.embedder)
    started = time.perf_counter()
    played = server.serve(lambda running: play(running, cases, phrases))
    report = {
        "corpus": args.corpus,
        "questions_sample": corpus["sample"],
        "phrases": f"eval/corrections_{args.phrases}.yaml ("
        + ("in-sample: they shaped the cue" if args.phrases == "dev" else "out-of-sample")
        + ")",
        "embedder": args.embedder,
        **measure(played),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"report": report}, ensure_ascii=False, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
