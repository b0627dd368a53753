"""Offline scenario routing: conversation state first, then lexical cues, then nearest examples.

Deterministic and local. The message is normalised by the knowledge layer (translit, ё, case) before
anything else; examples live in ``scenario/routing_examples.yaml`` and are embedded once with the
same offline embedder the knowledge base uses. Scores are the mean similarity of the k nearest
examples per scenario plus fixed bonuses from the cues (``cues.py``) and the niche probe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from backend.assistant.funnel import CODE, EMAIL, RESEND
from backend.assistant.offline.cues import Cues, read_cues
from backend.assistant.offline.niche_probe import NicheProbe, NicheSignal

Encode = Callable[[Sequence[str]], np.ndarray]

SCENARIOS = ("FAQ", "ANALYTICS", "REGISTRATION", "OFFTOPIC")
FUNNEL_ANSWER_WORDS = 6
SHORT_TALK_WORDS = 2

# Bonuses added to the nearest-example similarity (cosines of USE vectors, ~0.3-0.9).
SIGNUP_WISH = 0.30
SIGNUP_QUESTION = 0.20
SIGNUP_BARE = 0.12
SERVICE_QUESTION = 0.15
COVERAGE_QUESTION = 0.15
LEADS_QUESTION = 0.10
ANALYTICS_CUE = 0.12
NICHE_REQUEST = 0.25
NOT_DOMAIN = 0.12
OFFTOPIC_CUE = 0.15


@dataclass(frozen=True)
class Route:
    scenario: str
    reason: str
    scores: dict[str, float]
    niche: str | None = None  # the canonical niche the probe recognised, if any


class OfflineRouter:
    def __init__(self, examples_path: Path, encode: Encode, k: int = 3) -> None:
        raw: dict[str, list[str]] = yaml.safe_load(examples_path.read_text(encoding="utf-8"))
        labels: list[str] = []
        texts: list[str] = []
        for scenario in SCENARIOS:
            for text in raw.get(scenario, []):
                labels.append(scenario)
                texts.append(read_cues(text).norm or text)
        self._encode = encode
        matrix = np.asarray(encode(texts), dtype=np.float32)
        self._blocks = {s: matrix[[i for i, label in enumerate(labels) if label == s]] for s in SCENARIOS}
        self._k = k

    def _neighbours(self, text: str) -> dict[str, float]:
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

    @staticmethod
    def _bonuses(cues: Cues, context: dict[str, Any], niche: NicheSignal | None) -> dict[str, float]:
        bonus = dict.fromkeys(SCENARIOS, 0.0)
        signup_wish = cues.signup and cues.wish
        # The hard boundary: wanting access now is REGISTRATION; asking about accounts/access is FAQ.
        if signup_wish:
            bonus["REGISTRATION"] += SIGNUP_WISH
        elif (cues.signup or cues.registration_word) and (cues.question or cues.address):
            bonus["FAQ"] += SIGNUP_QUESTION
        elif cues.signup:
            bonus["REGISTRATION"] += SIGNUP_BARE
        advice = cues.general_advice and not cues.address
        if cues.service_topic and (cues.question or cues.address) and not (signup_wish or advice):
            bonus["FAQ"] += SERVICE_QUESTION
        if cues.leads and cues.question and niche is None and not (cues.analytics_strong or cues.venting):
            bonus["FAQ"] += LEADS_QUESTION  # "how/when do leads arrive?" is about the service
        covered = cues.coverage and (cues.question or cues.address)
        if covered:
            bonus["FAQ"] += COVERAGE_QUESTION
        if cues.analytics_strong:
            bonus["ANALYTICS"] += ANALYTICS_CUE
        if niche is not None and not covered and not signup_wish:
            asked = cues.analytics_strong or cues.analytics_weak or niche.extra_words <= 1
            consumer_only = cues.consumer and not cues.analytics_strong
            if (asked or context.get("last_scenario") == "ANALYTICS") and not consumer_only:
                bonus["ANALYTICS"] += NICHE_REQUEST
        if not (cues.domain or niche):
            bonus["OFFTOPIC"] += NOT_DOMAIN
        if cues.consumer and not cues.analytics_strong and not cues.address:
            bonus["OFFTOPIC"] += OFFTOPIC_CUE
        if cues.venting and not (cues.service_topic and cues.question):
            bonus["OFFTOPIC"] += OFFTOPIC_CUE
        if advice:
            bonus["OFFTOPIC"] += OFFTOPIC_CUE
        if cues.bot_address and not (cues.domain or niche or cues.analytics_weak):
            bonus["OFFTOPIC"] += OFFTOPIC_CUE
        return bonus

    async def route(self, text: str, context: dict[str, Any], probe: NicheProbe | None = None) -> Route:
        """State rules, then small talk, then the niche probe and the scored decision.

        The probe (``resolve_niche``) and the embedding run only when the cheap rules did not settle
        the message; the embedding runs in a worker thread, never on the event loop.
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
        scores = await asyncio.to_thread(self._neighbours, cues.norm or text)
        for scenario, extra in self._bonuses(cues, context, niche).items():
            scores[scenario] += extra
        best = max(scores, key=lambda name: scores[name])
        return Route(best, "scored", scores, niche.niche if niche else None)
