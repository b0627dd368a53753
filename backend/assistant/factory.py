"""Builds the turn engine from settings: picks the model provider, registers the tools."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from backend.assistant.cities import CityFinder
from backend.assistant.engine import TurnEngine
from backend.assistant.funnel import Funnel
from backend.assistant.offline.model import OfflineChatModel
from backend.assistant.offline.niche_probe import make_niche_probe
from backend.assistant.offline.router import OfflineRouter
from backend.assistant.ports import CodesPort, KnowledgePort, MailerPort
from backend.assistant.providers.base import ChatModel
from backend.assistant.texts import VisitorTexts
from backend.assistant.tools.base import ToolRegistry
from backend.assistant.tools.knowledge import KNOWLEDGE_TOOLS
from backend.assistant.tools.read_file import PromptFileCache, ReadFileTool
from backend.core.config import ROOT_DIR, Settings

SCENARIO_DIR = ROOT_DIR / "scenario"

Encode = Callable[[Sequence[str]], np.ndarray]


def visitor_texts(settings: Settings) -> VisitorTexts:
    return VisitorTexts(
        support_email=settings.SUPPORT_EMAIL, trial_days=settings.TRIAL_DAYS, timezone=settings.TIMEZONE
    )


def build_registry(scenario_dir: Path = SCENARIO_DIR, texts: VisitorTexts | None = None) -> ToolRegistry:
    registry = ToolRegistry()
    registry.add(ReadFileTool(PromptFileCache(scenario_dir, render=(texts or VisitorTexts()).render_prompt)))
    for tool in KNOWLEDGE_TOOLS:
        registry.add(tool())
    return registry


def build_offline_model(
    knowledge: KnowledgePort, encode: Encode, scenario_dir: Path = SCENARIO_DIR, texts: VisitorTexts | None = None
) -> OfflineChatModel:
    router = OfflineRouter(
        scenario_dir / "routing_examples.yaml",
        encode,
        knowledge.signals,
        knowledge.calibration.router,
        # the vectors the knowledge base remembers are its encoder's: usable only when it is ``encode``
        cached=knowledge.cached_query if encode == knowledge.encode_queries else None,
    )
    return OfflineChatModel(router, make_niche_probe(knowledge), texts)


def build_model(settings: Settings, offline: ChatModel) -> ChatModel:
    if not settings.OPENAI_API_KEY and not settings.OPENAI_BASE_URL:
        return offline
    # imported only when configured: the OpenAI SDK is ~13 MiB of an offline API worker (BENCHMARKS.md)
    from backend.assistant.providers.openai_compat import OpenAIChatModel

    return OpenAIChatModel(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        model=settings.OPENAI_MODEL,
        temperature=settings.OPENAI_TEMPERATURE,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=settings.OPENAI_MAX_RETRIES,
    )


def build_engine(
    settings: Settings,
    *,
    knowledge: Any,
    encode: Encode,
    codes: CodesPort,
    mailer: MailerPort,
    scenario_dir: Path = SCENARIO_DIR,
) -> TurnEngine:
    texts = visitor_texts(settings)
    offline = build_offline_model(knowledge, encode, scenario_dir, texts)
    funnel = Funnel(
        codes=codes,
        mailer=mailer,
        knowledge=knowledge,
        cities=CityFinder(scenario_dir / "cities.txt"),
        texts=texts,
    )
    return TurnEngine(
        model=build_model(settings, offline),
        offline=offline,
        registry=build_registry(scenario_dir, texts),
        funnel=funnel,
        knowledge=knowledge,
        scenario_dir=scenario_dir,
        history_char_budget=settings.HISTORY_CHAR_BUDGET,
        texts=texts,
    )
