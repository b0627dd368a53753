"""The Chroma server behind nginx with a bearer token (deploy/nginx/leadinc-chroma.conf).

Chroma 1.x itself accepts any request (checked here against the real server: no token, any token),
so the rendered site is the protection: a missing or wrong token is refused by nginx, the right one
reaches Chroma (the token itself is not passed on), the app indexes and queries through it, and a
process with a wrong token fails at start-up with a clear error, not at its first query."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy.chroma_proxy import GuardedChroma, guarded_chroma

from backend.core.config import Settings
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase
from backend.knowledge.vector_store import VectorStoreRefused
from backend.main import create_app
from helpers import make_settings

TOKEN = "chroma-token-for-the-test-0123456789"  # a throwaway value


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[GuardedChroma]:
    with guarded_chroma(tmp_path, TOKEN) as chroma:
        yield chroma


def test_chroma_itself_has_no_authentication(guarded: GuardedChroma) -> None:
    """Why the proxy exists: the server answers with no token and with any token alike."""
    port = guarded.server_port
    assert httpx.get(guarded.url(port)).status_code == 200
    wrong = {"Authorization": "Bearer nope", "X-Chroma-Token": "nope"}
    assert httpx.get(f"http://127.0.0.1:{port}/api/v2/tenants/default_tenant", headers=wrong).status_code == 200


def test_a_missing_or_wrong_token_is_refused_and_the_right_one_passes(guarded: GuardedChroma) -> None:
    url = guarded.url()
    missing = httpx.get(url)
    wrong = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}x"})
    other_scheme = httpx.get(url, headers={"Authorization": f"Basic {TOKEN}"})
    right = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    for refused in (missing, wrong, other_scheme):
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in refused.text
    assert right.status_code == 200 and "heartbeat" in right.text
    access_log = (guarded.logs / "leadinc-chroma.access.log").read_text()
    assert TOKEN not in access_log  # the token is never written to the log


def _settings(tmp_path: Path, port: int, token: str, **extra: Any) -> Settings:
    return make_settings(
        tmp_path,
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT=port,
        CHROMA_TOKEN=token,
        KNOWLEDGE_DIR=tmp_path / "index",
        FAQ_CORPUS_DIR=Path(__file__).parents[1] / "knowledge" / "fixtures" / "faq",
        ANALYTICS_CORPUS_DIR=Path(__file__).parents[1] / "knowledge" / "fixtures" / "analytics",
        **extra,
    )


async def test_the_app_works_through_the_proxy_and_fails_at_start_up_with_a_wrong_token(
    guarded: GuardedChroma, tmp_path: Path, database_url: str, redis_url: str
) -> None:
    port = guarded.proxy_port
    good = _settings(tmp_path, port, TOKEN, DATABASE_URL=database_url, REDIS_URL=redis_url)
    summary = build_index(good)
    assert summary.faq_articles == 3
    kb = await KnowledgeBase.open(good)
    hits = await kb.faq_search("Как вернуть деньги?")
    assert hits, "the query went through nginx to Chroma"

    for token, expected in (("wrong-token", "refused CHROMA_TOKEN"), ("", "CHROMA_TOKEN is empty")):
        with pytest.raises(VectorStoreRefused, match=expected) as refused:
            await KnowledgeBase.open(_settings(tmp_path, port, token))
        assert token not in str(refused.value) or not token

        app = create_app(_settings(tmp_path, port, token, DATABASE_URL=database_url, REDIS_URL=redis_url))
        with pytest.raises(VectorStoreRefused, match=expected):  # the API does not start at all
            async with app.router.lifespan_context(app):
                pass
