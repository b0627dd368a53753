"""The evaluation data stays independent of what the router learns from.

* No routing example is a near-duplicate of an evaluation message (rapidfuzz token-set ratio ≥ 85
  after the knowledge layer's normalisation), so figures on those messages are not inflated by
  paraphrases copied into ``scenario/routing_examples.yaml``.
* The held-out corpora B, G, H and I (``eval/corpus_b|g|h|i``) are pinned by a content hash: they are
  never fitted on and never edited to fit the code; changing one must be a deliberate, visible act.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
import yaml
from rapidfuzz import fuzz

from backend.core.config import ROOT_DIR
from backend.knowledge.normalize import to_cyrillic

NEAR_DUPLICATE = 85
EVAL = ROOT_DIR / "eval"
HELD_OUT_SHA256 = {
    "b": "8c122403d047d9c34e35ef291199716c026206544c0fb4d8ddbdd0ef9f1ca4b6",
    "g": "af688b367736ff3b16bc00ea141fdebdd13d667e38d34888ce6ef4f91a015f89",
    "h": "0f4abeb4570101c13f9452a3cb007ca9f746cc3afb984eadb2437ed7f24fa3bf",
    "i": "784f236b50fcc888c7b2ea72e1d4ada5f53a762d68bda0d53bff6cc65cf7373c",
}
# Conversations over a corpus's FAQ (``scripts/eval/dialogue_eval.py``): B's are held out like corpus B
# (C's, over a training corpus, are where follow-up rules are developed).
HELD_OUT_DIALOGUES_SHA256 = {
    "b": "595e9460ab7a1daf4cb51e5f4a8ca33ef1335deb47984fd0b3ca075f652351d0",
}
# The held-out phrases of a visitor repairing a conversation (``scripts/eval/repair_eval.py``): the answer
# missed, the answer was not understood.
HELD_OUT_REPAIRS_SHA256 = {
    "corrections_test": "6b2ae7f31a71a78084e993c0dba5585098028a575b8c7f9fdfa7d60fb5270ff3",
    "unclear_test": "f23b01616a0ccfc25ae20a9cd4393f9743e20ca440c52ef556c14dc9c5fc0f63",
}
# Corpora C to F are training data (the calibration is fitted on A and C to F): pinned so that
# ``scenario/calibration.json`` can be refitted from exactly what it was fitted on.
TRAINING_SHA256 = {
    "c": "455f2955c5641228e62ffa94405d99c6a980b3d7d1723860016985247ca70b87",
    "d": "de91405f0609e41fac2a87e9c3dc775107f9d893ec664959d3d342acb576acf0",
    "e": "40159479906cd8a5da6c0aeb46281ab5505c6d0f20a5210d0595324ab52c02d9",
    "f": "34e45426efeedc6c173cc9b1d641f65499f18d6da9a83e100bbd0a0d8475a63d",
}


def _norm(text: str) -> str:
    return " ".join(to_cyrillic(text).split())


def _evaluation_messages() -> list[str]:
    texts: list[str] = []
    data = ROOT_DIR / "tests" / "assistant" / "data"
    for path in sorted(data.glob("*.yaml")):
        texts += [str(case["text"]) for case in yaml.safe_load(path.read_text("utf-8"))]
    knowledge = ROOT_DIR / "tests" / "knowledge" / "data"
    for path in sorted(knowledge.glob("*.yaml")):
        texts += [str(q["query"]) for q in yaml.safe_load(path.read_text("utf-8"))["queries"]]
    for name in HELD_OUT_SHA256:
        texts += [
            str(case["text"]) for case in yaml.safe_load((EVAL / f"corpus_{name}" / "messages.yaml").read_text("utf-8"))
        ]
    for name in HELD_OUT_DIALOGUES_SHA256:  # the turns that are questions of their own
        path = EVAL / f"dialogues_{name}.yaml"
        turns = [turn for dialogue in yaml.safe_load(path.read_text("utf-8")) for turn in dialogue["turns"]]
        texts += [str(turn["text"]) for turn in turns if not (turn.get("more") or turn.get("elliptic"))]
    return texts


def near_duplicates(examples: list[str], messages: list[str]) -> list[tuple[str, str, float]]:
    normalised = [_norm(m) for m in messages]
    found = []
    for example in examples:
        key = _norm(example)
        for message, norm in zip(messages, normalised, strict=True):
            score = fuzz.token_set_ratio(key, norm)
            if score >= NEAR_DUPLICATE:
                found.append((example, message, score))
    return found


# Corpora G and H (2026-12-01 05:3x UTC) and I (2026-12-02) were written after the routing examples
# last changed (44e0182, 2026-12-01 00:42 UTC), by helpers who never saw them; these common phrasings of
# theirs match an example by chance (this many evaluation messages each), and nothing else may. The same
# holds for corpus B's dialogues (2026-12-02), written by a helper who read only B's articles and niches.
EARLIER_EXAMPLES = {
    "автошкола": 5,
    "в каких городах вы работаете": 3,
    "кто написал войну и мир": 1,
    "нужна ли регистрация чтобы посмотреть тарифы": 3,
    "реши уравнение": 1,
    "хочу стать клиентом": 1,
    "можно подключить Битрикс24": 1,
    "можно ли оплатить по счёту от юрлица": 3,
    "хочу бесплатный пробный доступ": 1,
    "можно сменить почту в аккаунте": 1,
    "цена одного лида у вас": 1,
    "бывают ли у вас скидки при оплате сразу за год": 1,
    "договор оферты где почитать": 1,
    "зарегистрируй меня": 1,
    "сколько стоят ваши тарифы": 1,
    "насколько свежие у вас данные": 1,
}


def test_no_routing_example_is_a_near_duplicate_of_an_evaluation_message() -> None:
    raw = yaml.safe_load((ROOT_DIR / "scenario" / "routing_examples.yaml").read_text("utf-8"))
    examples = [str(text) for texts in raw.values() for text in texts]
    found = near_duplicates(examples, _evaluation_messages())
    counts = Counter(example for example, _, _ in found)
    found = [f for f in found if counts[f[0]] != EARLIER_EXAMPLES.get(f[0])]
    assert not found, "routing examples too close to evaluation messages:\n" + "\n".join(
        f"  {score:.0f}: {example!r} ~ {message!r}" for example, message, score in found
    )


def test_the_check_catches_a_paraphrase() -> None:
    assert near_duplicates(["скажите сколько стоит подключение?"], ["сколько стоит подключение"])
    assert not near_duplicates(["как вернуть деньги"], ["есть ли интеграция с битрикс24"])


def corpus_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@pytest.mark.parametrize("name", sorted(HELD_OUT_SHA256))
def test_the_held_out_corpora_are_pinned(name: str) -> None:
    digest = corpus_digest(EVAL / f"corpus_{name}")
    assert digest == HELD_OUT_SHA256[name], f"corpus {name.upper()} changed: it must never be tuned on (see its README)"


@pytest.mark.parametrize("name", sorted(TRAINING_SHA256))
def test_the_training_corpora_are_pinned(name: str) -> None:
    digest = corpus_digest(EVAL / f"corpus_{name}")
    assert digest == TRAINING_SHA256[name], f"corpus {name.upper()} changed: refit scenario/calibration.json on it"


@pytest.mark.parametrize("name", sorted(HELD_OUT_DIALOGUES_SHA256))
def test_the_held_out_dialogues_are_pinned(name: str) -> None:
    digest = hashlib.sha256((EVAL / f"dialogues_{name}.yaml").read_bytes()).hexdigest()
    assert digest == HELD_OUT_DIALOGUES_SHA256[name], f"dialogues {name.upper()} changed: they must never be tuned on"


@pytest.mark.parametrize("name", sorted(HELD_OUT_REPAIRS_SHA256))
def test_the_held_out_repair_phrases_are_pinned(name: str) -> None:
    digest = hashlib.sha256((EVAL / f"{name}.yaml").read_bytes()).hexdigest()
    assert digest == HELD_OUT_REPAIRS_SHA256[name], f"{name}.yaml changed: it must never be tuned on"
