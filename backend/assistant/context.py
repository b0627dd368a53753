"""What one turn knows: the session's scenario state, the caller, and what the tools found.

No FastAPI here: the same engine serves HTTP, SSE and the Celery ``text`` task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.assistant.ports import KnowledgePort
from backend.knowledge.schemas import FaqHit, FaqRecord, NicheLookup


@dataclass
class Caller:
    user_id: uuid.UUID | None
    email: str | None = None
    has_access: bool = False  # active trial/subscription or whitelisted
    # The access status (``backend.auth.accounts.AccessState`` values): guest, trial, subscription,
    # trial_ended, subscription_ended, none; ``access_until`` is its date (end, or when it ended).
    access: str = "guest"
    access_until: datetime | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None


@dataclass
class TurnContext:
    """Per-turn scratchpad shared by the loop and the tools. Tables never go to the model."""

    knowledge: KnowledgePort
    session_data: dict[str, Any]
    caller: Caller
    collection: str | None = None
    faq_hits: list[FaqHit] = field(default_factory=list)
    faq_shown: list[str] = field(default_factory=list)  # article ids the calibrated rule would show
    articles: dict[str, FaqRecord] = field(default_factory=dict)
    analytics: NicheLookup | None = None  # a resolved niche (its table stays server-side)
    candidates: list[str] = field(default_factory=list)
    tool_log: list[dict[str, Any]] = field(default_factory=list)
    model_wait: float = 0.0  # seconds spent waiting on a remote model (not server work)
