"""The evaluation data stays independent of what the router learns from.

* No routing example is a near-duplicate of an evaluation message (rapidfuzz token-set ratio ≥ 85
  after the knowledge layer's normalisation), so figures on those messages are not inflated by
  paraphrases copied into ``scenario/routing_examples.yaml``.
* Corpus B (``eval/corpus_b``) is pinned by a content hash: it was written before any tuning and is
  never edited to fit the code; changing it must be a deliberate, visible act.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from rapidfuzz import fuzz

from backend.core.config import ROOT_DIR
from backend.knowledge.normalize import to_cyrillic

NEAR_DUPLICATE = 85
CORPUS_B = ROOT_DIR / "eval" / "corpus_b"
CORPUS_B_SHA256 = "8c122403d047d9c34e35ef291199716c026206544c0fb4d8ddbdd0ef9f1ca4b6"
# Corpora C to H are training data (the calibration is fitted on A and C to H): pinned so that
# ``scenario/calibration.json`` can be refitted from exactly what it was fitted on.
TRAINING_SHA256 = {
    "c": "455f2955c5641228e62ffa94405d99c6a980b3d7d1723860016985247ca70b87",
    "d": "de91405f0609e41fac2a87e9c3dc775107f9d893ec664959d3d342acb576acf0",
    "e": "40159479906cd8a5da6c0aeb46281ab5505c6d0f20a5210d0595324ab52c02d9",
    "f": "34e45426efeedc6c173cc9b1d641f65499f18d6da9a83e100bbd0a0d8475a63d",
    "g": "f5c652f8bd21f4f0b07556d4185b7ef36ed39c95d74c78096bb4af21d431987b",
    "h": "4539418ba827dd31def5ff103a4147d2f917ad8b25f1272ea9c0f06fa186cfbf",
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
    texts += [str(case["text"]) for case in yaml.safe_load((CORPUS_B / "messages.yaml").read_text("utf-8"))]
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


def test_no_routing_example_is_a_near_duplicate_of_an_evaluation_message() -> None:
    raw = yaml.safe_load((ROOT_DIR / "scenario" / "routing_examples.yaml").read_text("utf-8"))
    examples = [str(text) for texts in raw.values() for text in texts]
    found = near_duplicates(examples, _evaluation_messages())
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


def test_corpus_b_is_pinned() -> None:
    assert corpus_digest(CORPUS_B) == CORPUS_B_SHA256, "corpus B changed: it must never be tuned on (see its README)"


@pytest.mark.parametrize("name", sorted(TRAINING_SHA256))
def test_the_training_corpora_are_pinned(name: str) -> None:
    digest = corpus_digest(ROOT_DIR / "eval" / f"corpus_{name}")
    assert digest == TRAINING_SHA256[name], f"corpus {name.upper()} changed: refit scenario/calibration.json on it"
