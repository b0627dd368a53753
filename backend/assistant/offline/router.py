"""Offline scenario routing: conversation state first, then a fitted classifier over routing evidence.

Deterministic and local. State rules settle funnel answers (an e-mail, a code, a city inside the
funnel) and bare small talk. Everything else is decided by a multinomial logistic regression
(``backend.knowledge.calibration``; weights fitted on corpus A per embedding model by
``python -m scripts.eval.calibrate``) over three kinds of evidence:

* the live index: how well the message matches the operator's FAQ articles (dense cosine, BM25,
  share of its words an article contains) and niche list (semantic similarity, name words, the
  niche probe), so what is in the domain follows the corpus after a reindex, with no code change;
* the mean similarity of the nearest routing examples per scenario (``scenario/routing_examples.yaml``);
* generic lexical cues of intent (``cues.py``): a question, a wish to sign up, a request for figures.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from backend.assistant.funnel import CODE, EMAIL, RESEND, asks_about_login
from backend.assistant.offline.cues import Cues, read_cues
from backend.assistant.offline.niche_probe import NicheProbe, NicheSignal
from backend.knowledge.calibration import Classifier
from backend.knowledge.schemas import QuerySignals

Encode = Callable[[Sequence[str]], np.ndarray]
Cached = Callable[[str], np.ndarray | None]  # a query vector the encoder still remembers, or None
SignalSource = Callable[[str], Awaitable[QuerySignals]]

SCENARIOS = ("FAQ", "ANALYTICS", "REGISTRATION", "OFFTOPIC")
FUNNEL_ANSWER_WORDS = 6
SHORT_TALK_WORDS = 2
CUE_FEATURES = (
    "question", "address", "service_topic", "signup", "wish", "registration_word", "analytics_strong",
    "analytics_weak", "trade", "consumer", "general_advice", "bot_address", "smalltalk",
)  # fmt: skip
FEATURES = (
    *(f"nn_{s.lower()}" for s in SCENARIOS),
    "faq_dense", "faq_lexical", "faq_coverage", "faq_known_share", "niche_semantic", "niche_name_share",
    "niche_probe", "niche_extra_words", "signup_wish", "words", "after_analytics",
    *CUE_FEATURES,
)  # fmt: skip


@dataclass(frozen=True)
class Route:
    scenario: str
    reason: str
    scores: dict[str, float]
    niche: str | None = None  # the canonical niche the probe recognised, if any


class OfflineRouter:
    def __init__(
        self,
        examples_path: Path,
        encode: Encode,
        signals: SignalSource | None = None,
        model: Classifier | None = None,
        k: int = 3,
        cached: Cached | None = None,
    ) -> None:
        raw: dict[str, list[str]] = yaml.safe_load(examples_path.read_text(encoding="utf-8"))
        labels: list[str] = []
        texts: list[str] = []
        for scenario in SCENARIOS:
            for text in raw.get(scenario, []):
                labels.append(scenario)
                texts.append(read_cues(text).norm or text)
        self._encode = encode
        self._cached = cached
        matrix = np.asarray(encode(texts), dtype=np.float32)
        self._blocks = {s: matrix[[i for i, label in enumerate(labels) if label == s]] for s in SCENARIOS}
        self._k = k
        self._signals = signals
        self.model = model

    def _neighbours(self, text: str, vector: np.ndarray | None = None) -> dict[str, float]:
        if vector is None:
            vector = np.asarray(self._encode([text]), dtype=np.float32)[0]
        scores: dict[str, float] = {}
        for scenario, block in self._blocks.items():
            if not len(block):
                scores[scenario] = 0.0
                continue
            sims = block @ vector
            k = min(self._k, len(sims))
            scores[scenario] = float(np.partition(sims, len(sims) - k)[-k:].mean())
        return scores

    @staticmethod
    def _by_state(text: str, cues: Cues, context: dict[str, Any]) -> Route | None:
        """Inside the funnel a bare e-mail, code, city or niche is an answer; "да" accepts the last offer."""
        stage = context.get("funnel_stage")
        stripped = text.strip()
        if EMAIL.fullmatch(stripped):
            return Route("REGISTRATION", "bare e-mail", {})
        if stage in (1, 2) and (EMAIL.search(stripped) or CODE.search(stripped)):
            return Route("REGISTRATION", "funnel answer", {})
        if stage == 1 and context.get("funnel_has_contact") and RESEND.search(cues.norm):
            return Route("REGISTRATION", "funnel: resend the code", {})
        if stage == 2 and cues.words <= FUNNEL_ANSWER_WORDS and not cues.question and not cues.smalltalk:
            return Route("REGISTRATION", "funnel answer (city/niche)", {})
        if cues.affirm:
            if stage == 3 and context.get("funnel_niche"):
                return Route("ANALYTICS", "accepted the analytics offer", {})
            if context.get("last_action") == "need_registration":
                return Route("REGISTRATION", "accepted the sign-up offer", {})
        return None

    @staticmethod
    def _short_talk(cues: Cues) -> bool:
        """Greetings, thanks, "ок" and keyboard mashing: settled without the niche probe or embeddings."""
        plain = not (cues.domain or cues.signup or cues.analytics_strong)
        return cues.gibberish or (cues.smalltalk and plain and cues.words <= SHORT_TALK_WORDS)

    async def features(
        self, text: str, cues: Cues, context: dict[str, Any], niche: NicheSignal | None
    ) -> dict[str, float]:
        """The routing evidence for one message (see the module docstring), by feature name."""
        evidence = await self._signals(text) if self._signals is not None else None
        # The signals embedded the message; when that is the vector the neighbours need (it usually
        # is), they are a few small products, computed here rather than in a worker thread.
        norm = cues.norm or text
        vector = self._cached(norm) if self._cached is not None else None
        if vector is not None:
            neighbours = self._neighbours(norm, np.asarray(vector, dtype=np.float32))
        else:
            neighbours = await asyncio.to_thread(self._neighbours, norm)
        values: dict[str, float] = {f"nn_{s.lower()}": neighbours[s] for s in SCENARIOS}
        if evidence is not None:
            values |= {
                "faq_dense": evidence.faq_dense,
                "faq_lexical": math.log1p(max(evidence.faq_lexical, 0.0)),
                "faq_coverage": evidence.faq_coverage,
                "faq_known_share": evidence.faq_known_share,
                "niche_semantic": evidence.niche_semantic,
                "niche_name_share": evidence.niche_name_share,
            }
        values |= {
            "niche_probe": float(niche is not None),
            "niche_extra_words": min(niche.extra_words, 5) / 5 if niche is not None else 1.0,
            "signup_wish": float(cues.signup and cues.wish),
            "words": math.log1p(cues.words),
            "after_analytics": float(context.get("last_scenario") == "ANALYTICS"),
        }
        values |= {name: float(getattr(cues, name)) for name in CUE_FEATURES}
        return values

    def decide(self, values: dict[str, float]) -> dict[str, float]:
        """Scenario probabilities from the fitted model; without one, the nearest examples alone."""
        if self.model is None:
            return {s: values[f"nn_{s.lower()}"] for s in SCENARIOS}
        return self.model.probabilities(values)

    async def evidence(
        self, text: str, context: dict[str, Any], probe: NicheProbe | None = None
    ) -> Route | tuple[dict[str, float], NicheSignal | None]:
        """A route settled by the state and small-talk rules, or the features for the classifier.

        The probe, the index signals and the embedding run only when the cheap rules did not settle
        the message; blocking work runs in worker threads, never on the event loop.
        """
        cues = read_cues(text)
        settled = self._by_state(text, cues, context)
        if settled is not None:
            return settled
        if self._short_talk(cues):
            return Route("OFFTOPIC", "small talk", {})
        niche = await probe(text) if probe is not None else None
        on_article = context.get("last_scenario") == "FAQ" and context.get("current_article_id")
        if on_article and cues.follow_up and not (cues.signup or niche):
            return Route("FAQ", "follow-up on the current article", {})
        if cues.smalltalk and not (cues.domain or cues.signup or cues.analytics_strong or niche):
            return Route("OFFTOPIC", "small talk", {})
        return await self.features(text, cues, context, niche), niche

    async def route(self, text: str, context: dict[str, Any], probe: NicheProbe | None = None) -> Route:
        found = await self.evidence(text, context, probe)
        if isinstance(found, Route):
            return found
        values, niche = found
        scores = self.decide(values)
        best = max(scores, key=lambda name: scores[name])
        if best == "OFFTOPIC" and values["question"] and values["service_topic"]:
            # A question about prices, payment, documents or the account is never small talk: on a
            # corpus that does not cover it, the FAQ's "no answer" (with the support contact) is the
            # right reply, not the small-talk quota (on the training corpora: ~300 such questions are
            # FAQ, ANALYTICS or REGISTRATION, 2 are off-topic).
            best = max((name for name in scores if name != "OFFTOPIC"), key=lambda name: scores[name])
        if best == "REGISTRATION" and asks_about_login(text):
            # How to sign in is a question about an account the visitor has: answered (or "no answer"
            # with the support contact), not a sign-up (the funnel's own rule, ``wants_login``).
            best = max((name for name in scores if name != "REGISTRATION"), key=lambda name: scores[name])
        return Route(best, "classified", scores, niche.niche if niche else None)
