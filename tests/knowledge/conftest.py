"""Fixtures of the knowledge tests: settings over the shared fixture-corpus index (no database
needed), one index of the demo corpora per run, corpus writers and the OpenAI stand-in."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from knowledge.support import DEMO_ANALYTICS_DIR, DEMO_FAQ_DIR, FIXTURES

from backend.core.config import Settings
from backend.knowledge.indexer import build_index
from helpers import make_settings


@pytest.fixture
def kb_settings(tmp_path: Path, knowledge_dirs: dict[str, Any]) -> Settings:
    """Settings reading the shared index of the small fixture corpora."""
    return make_settings(tmp_path, **knowledge_dirs)


@pytest.fixture
def own_index(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a private index (its own Chroma and manifest) over copies of the fixture corpora."""

    def make(**overrides: Any) -> Settings:
        faq, analytics = tmp_path / "corpus" / "faq", tmp_path / "corpus" / "analytics"
        if not faq.exists():
            shutil.copytree(FIXTURES / "faq", faq)
            shutil.copytree(FIXTURES / "analytics", analytics)
        values: dict[str, Any] = {
            "KNOWLEDGE_DIR": tmp_path / "index",
            "CHROMA_DIR": tmp_path / "chroma",
            "FAQ_CORPUS_DIR": faq,
            "ANALYTICS_CORPUS_DIR": analytics,
        }
        values.update(overrides)
        return make_settings(tmp_path, **values)

    return make


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One index of the demo corpora (32 articles, 449 niches) for the whole run."""
    root = tmp_path_factory.mktemp("demo-knowledge")
    settings = make_settings(
        root,
        KNOWLEDGE_DIR=root / "index",
        CHROMA_DIR=root / "chroma",
        FAQ_CORPUS_DIR=DEMO_FAQ_DIR,
        ANALYTICS_CORPUS_DIR=DEMO_ANALYTICS_DIR,
    )
    build_index(settings)
    return settings
