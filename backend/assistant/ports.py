"""What the assistant needs from other domains, as protocols (the engine imports no HTTP code)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from backend.knowledge.calibration import Calibration
from backend.knowledge.schemas import (
    FaqHit,
    FaqRecord,
    FaqResult,
    NicheHit,
    NicheLookup,
    NicheResolution,
    QuerySignals,
)


class KnowledgePort(Protocol):
    calibration: Calibration

    async def signals(self, text: str) -> QuerySignals: ...

    async def faq_lookup(self, query: str, n_results: int = 5, last_article_id: str | None = None) -> FaqResult: ...

    async def faq_search(self, query: str, n_results: int = 5, last_article_id: str | None = None) -> list[FaqHit]: ...

    async def faq_get_by_id(self, article_id: str) -> FaqRecord: ...

    async def analytics_titles_search(self, query: str, n_results: int = 5) -> list[NicheHit]: ...

    async def analytics_titles_random(self, n: int = 5) -> list[str]: ...

    async def analytics_search(self, query: str, n_results: int = 5) -> list[NicheHit]: ...

    async def analytics_get_by_niche(self, niche: str) -> NicheLookup: ...

    async def resolve_niche(self, text: str) -> NicheResolution: ...

    async def niche_mention(self, text: str) -> NicheResolution: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def cached_query(self, text: str) -> np.ndarray | None: ...


class CodesPort(Protocol):
    async def issue(self, contact: str, *, scope: str | None = None, enforce_cooldown: bool = False) -> Any: ...

    async def verify(self, contact: str, code: str) -> None: ...


class MailerPort(Protocol):
    async def send_code(self, email: str, code: str) -> None: ...


@dataclass(frozen=True)
class FunnelAccount:
    """An existing account the funnel signed in (its access as ``backend.auth.accounts.AccessState`` values)."""

    user_id: uuid.UUID
    email: str
    city: str | None
    niche: str | None
    access: str
    access_until: datetime | None


class AccountsPort(Protocol):
    async def register_from_funnel(
        self, chat_session_id: uuid.UUID, email: str, city: str | None, niche: str | None
    ) -> tuple[uuid.UUID, datetime | None]:
        """Create or attach the user, start the trial, move the guest history. Returns (user id, trial end)."""
        ...

    async def sign_in_from_funnel(self, chat_session_id: uuid.UUID, email: str) -> FunnelAccount | None:
        """The existing active account of a just verified e-mail, with the guest history moved to it;
        None when there is no such account."""
        ...

    async def record_transition(
        self, chat_session_id: uuid.UUID, from_stage: int | None, to_stage: int | None
    ) -> None: ...
