"""End-to-end evaluation of conversations: how the assistant continues after an FAQ answer.

``python -m scripts.eval.dialogue_eval [--corpus b] [--embedder use|e5] [--json PATH]``

``chat_eval`` sends every message in a conversation of its own, so it never sees a follow-up. This
script starts the product the same way (``chat_eval.Server``: the offline model on a server indexed
on the corpus) and plays each conversation of ``eval/dialogues_<x>.yaml`` in one session,
turn by turn, as a guest. Each visitor turn is labelled with its scenario and, for FAQ turns, the
article that answers it in context (or ``answerable: false``); some turns are marked ``more`` (a
bare request for more of the previous answer) or ``elliptic`` (a question that only makes sense with
the previous turn).

Measures, over all turns and per kind of turn (``more``, ``elliptic``, the other FAQ turns after the
first of a conversation, the first turns):

* routing accuracy;
* FAQ: the right article is the first source; among the sources shown; answerable turns refused;
  unanswerable turns answered with ``no_answer``;
* ``more`` turns: the reply says something the conversation's earlier replies did not (a sentence not
  already said), with the previous answer's article as its first source.

Both sets were written without the product's code. Corpus C's (a training corpus) are where rules for
follow-ups are developed: in-sample. Corpus B's are never tuned on: out-of-sample.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from backend.core.config import ROOT_DIR
from backend.knowledge.units import sentences
from scripts.eval.chat_eval import CORPORA, EMBEDDERS, Server, publish, share

KINDS = ("first", "more", "elliptic", "other")
DIALOGUES_SAMPLE = {
    "b": "out-of-sample (corpus B's dialogues are never tuned on)",
    "c": "in-sample (corpus C's dialogues are where follow-up rules are developed)",
}


@dataclass(frozen=True)
class Turn:
    text: str
    scenario: str
    article_ids: tuple[str, ...]
    answerable: bool
    kind: str

    @classmethod
    def parse(cls, raw: dict[str, Any], first: bool) -> Turn:
        articles = raw.get("article_ids") or ([raw["article_id"]] if raw.get("article_id") else [])
        kind = "first" if first else "more" if raw.get("more") else "elliptic" if raw.get("elliptic") else "other"
        return cls(
            text=str(raw["text"]),
            scenario=str(raw["scenario"]),
            article_ids=tuple(str(a) for a in articles),
            answerable=bool(raw.get("answerable", True)),
            kind=kind,
        )


@dataclass(frozen=True)
class Played:
    turn: Turn
    reply: dict[str, Any]
    earlier: tuple[str, ...]  # the conversation's replies before this one

    @property
    def sources(self) -> list[str]:
        return [str(s.get("article_id")) for s in self.reply.get("sources") or []]

    @property
    def says_something_new(self) -> bool:
        said = "\n".join(self.earlier)
        return any(s not in said for s in sentences(str(self.reply.get("reply") or "")) if len(s) > 2)


def load_dialogues(path: Path) -> list[list[Turn]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [[Turn.parse(t, n == 0) for n, t in enumerate(d["turns"])] for d in raw]


async def play(server: Server, dialogues: list[list[Turn]]) -> list[Played]:
    played: list[Played] = []
    for dialogue in dialogues:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            (await client.get("/auth/session")).raise_for_status()  # a guest's conversation
            replies: list[str] = []
            for turn in dialogue:
                response = await client.post("/ai/chat", json={"message": turn.text})
                if response.status_code != 200:
                    raise RuntimeError(f"/ai/chat answered {response.status_code}: {response.text[:300]}")
                reply = response.json()
                played.append(Played(turn, reply, tuple(replies)))
                replies.append(str(reply.get("reply") or ""))
    return played


def _measures(played: list[Played]) -> dict[str, Any]:
    faq = [p for p in played if p.turn.scenario == "FAQ" and p.turn.answerable]
    unanswerable = [p for p in played if p.turn.scenario == "FAQ" and not p.turn.answerable]
    return {
        "turns": len(played),
        "routing": share(sum(p.reply.get("scenario") == p.turn.scenario for p in played), len(played)),
        "faq_answerable": len(faq),
        "first_source": share(sum(bool(p.sources) and p.sources[0] in p.turn.article_ids for p in faq), len(faq)),
        "among_shown": share(sum(any(s in p.turn.article_ids for s in p.sources) for p in faq), len(faq)),
        "wrongly_refused": share(sum(p.reply.get("action") == "no_answer" for p in faq), len(faq)),
        "unanswerable": len(unanswerable),
        "unanswerable_caught": share(
            sum(p.reply.get("action") == "no_answer" for p in unanswerable), len(unanswerable)
        ),
    }


def measure(played: list[Played]) -> dict[str, Any]:
    report: dict[str, Any] = {"all": _measures(played)}
    for kind in KINDS:
        report[kind] = _measures([p for p in played if p.turn.kind == kind])
    more = [p for p in played if p.turn.kind == "more"]
    report["more"]["says_something_new"] = share(sum(p.says_something_new for p in more), len(more))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=sorted(DIALOGUES_SAMPLE), default="b")
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="use")
    parser.add_argument("--port", type=int, default=8792)
    parser.add_argument("--var-dir", type=Path)
    parser.add_argument("--json", type=Path, help="write the measures here (never the failing turns)")
    args = parser.parse_args(argv)
    corpus = CORPORA[args.corpus]
    dialogues = load_dialogues(ROOT_DIR / "eval" / f"dialogues_{args.corpus}.yaml")
    var_dir = args.var_dir or ROOT_DIR / "var" / f"dialogue-eval-{args.corpus}-{args.embedder}"
    server = Server(faq=corpus["faq"], niches=corpus["niches"], var_dir=var_dir, port=args.port, embedder=args.embedder)
    started = time.perf_counter()
    played = server.serve(lambda running: play(running, dialogues))
    report = {
        "corpus": args.corpus,
        "sample": DIALOGUES_SAMPLE[args.corpus],
        "embedder": args.embedder,
        "conversations": len(dialogues),
        **measure(played),
        "seconds": round(time.perf_counter() - started, 1),
    }
    publish(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
