"""Does the message name one of the known niches, confidently enough to route on it?

``resolve_niche`` is generous by design (it must find «потолки» in «натяжные потолки»), so a
resolution alone is a weak routing signal: «сколько стоит» resolves to a niche through a short
alias. The probe keeps a resolution only when the niche's own words appear in the message (or the
message is an exact, non-trivial alias), and reports how many other words the message carries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from backend.assistant.ports import KnowledgePort
from backend.knowledge.niches import alike, niche_terms, title_stems
from backend.knowledge.schemas import NicheResolution

MAX_TERMS = 8  # longer messages are not "about a niche"; the router relies on its other cues


@dataclass(frozen=True)
class NicheSignal:
    niche: str
    method: str | None
    extra_words: int  # message terms (request and stop words removed) that are not the niche's words


NicheProbe = Callable[[str], Awaitable[NicheSignal | None]]


def signal_from(text: str, resolution: NicheResolution) -> NicheSignal | None:
    niche, method = resolution.niche, resolution.method
    if not niche:
        return None
    terms = niche_terms(text)
    name_stems = title_stems(str(niche))
    matched = [t for t in terms if any(alike(t, s) for s in name_stems)]
    if matched:
        return NicheSignal(str(niche), method, len(terms) - len(matched))
    if method == "exact" and len(" ".join(terms)) >= 4:  # an alias («зубные клиники»)
        return NicheSignal(str(niche), method, 0)
    return None


def make_niche_probe(knowledge: KnowledgePort) -> NicheProbe:
    async def probe(text: str) -> NicheSignal | None:
        terms = niche_terms(text)
        if not terms or len(terms) > MAX_TERMS:
            return None
        # Only what ``signal_from`` can keep is resolved (no word alike a niche title: no ranking).
        return signal_from(text, await knowledge.niche_mention(text))

    return probe
