"""The Chroma server behind nginx with a bearer token (deploy/nginx/leadinc-chroma.conf).

Chroma 1.x itself accepts any request (checked here against the real server: no token, any token),
so the rendered site is the protection: a missing or wrong token is refused by nginx, the right one
reaches Chroma (the token itself is not passed on), the app indexes and queries through it, and a
process with a wrong token fails at start-up with a clear error, not at its first query."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy.support import NGINX, free_port, nginx_conf, nginx_test, render, spawn, stop, tail, wait_for_port

from backend.core.config import Settings
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase
from backend.knowledge.vector_store import VectorStoreRefused
from backend.main import create_app
from helpers import make_settings

TOKEN = "chroma-token-for-the-test-0123456789"  # a throwaway value


@dataclass
class GuardedChroma:
    server_port: int
    proxy_port: int
    prefix: Path

    def url(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.proxy_port}/api/v2/heartbeat"


@pytest.fixture
def guarded_chroma(tmp_path: Path) -> Iterator[GuardedChroma]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed")
    server_port, proxy_port = free_port(), free_port()
    token_map = tmp_path / "chroma-token.map"
    token_map.write_text(f'"Bearer {TOKEN}" 1;\n', encoding="utf-8")
    rendered = render(
        tmp_path / "rendered",
        CERT="/c",
        KEY="/k",
        VAR_DIR=str(tmp_path / "var"),
        CHROMA_PORT=str(proxy_port),
        CHROMA_TOKEN=TOKEN,
        CHROMA_SERVER_PORT=str(server_port),
        CHROMA_LISTEN="127.0.0.1",
        CHROMA_TOKEN_MAP=str(token_map),
        NGINX_LOG_DIR=str(tmp_path / "nginx-logs"),
    )
    (tmp_path / "nginx-logs").mkdir()
    unit = (rendered / "systemd" / "leadinc-chroma.service").read_text()
    assert f"--host 127.0.0.1 --port {server_port}" in unit  # Chroma itself stays on loopback
    prefix = tmp_path / "nginx"
    conf = nginx_conf(prefix, rendered / "nginx" / "leadinc-chroma.conf")
    checked = nginx_test(prefix, conf)
    assert checked.returncode == 0, checked.stderr
    chroma_log, nginx_log = tmp_path / "chroma.log", tmp_path / "nginx.log"
    chroma = spawn(
        [str(Path(__file__).parents[2] / ".venv" / "bin" / "chroma"), "run", "--path", str(tmp_path / "chroma"),
         "--host", "127.0.0.1", "--port", str(server_port)],
        chroma_log,
    )  # fmt: skip
    nginx = spawn([NGINX, "-p", f"{prefix}/", "-c", str(conf)], nginx_log)
    try:
        wait_for_port(server_port, chroma, chroma_log, timeout=60)
        wait_for_port(proxy_port, nginx, nginx_log, timeout=20)
        deadline = time.monotonic() + 30
        while httpx.get(f"http://127.0.0.1:{server_port}/api/v2/heartbeat", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, tail(chroma_log)
            time.sleep(0.2)
        yield GuardedChroma(server_port, proxy_port, prefix)
    finally:
        stop(nginx, signal.SIGQUIT, timeout=10)
        stop(chroma, signal.SIGTERM, timeout=20)


def test_chroma_itself_has_no_authentication(guarded_chroma: GuardedChroma) -> None:
    """Why the proxy exists: the server answers with no token and with any token alike."""
    port = guarded_chroma.server_port
    assert httpx.get(guarded_chroma.url(port)).status_code == 200
    wrong = {"Authorization": "Bearer nope", "X-Chroma-Token": "nope"}
    assert httpx.get(f"http://127.0.0.1:{port}/api/v2/tenants/default_tenant", headers=wrong).status_code == 200


def test_a_missing_or_wrong_token_is_refused_and_the_right_one_passes(guarded_chroma: GuardedChroma) -> None:
    url = guarded_chroma.url()
    missing = httpx.get(url)
    wrong = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}x"})
    other_scheme = httpx.get(url, headers={"Authorization": f"Basic {TOKEN}"})
    right = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    for refused in (missing, wrong, other_scheme):
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in refused.text
    assert right.status_code == 200 and "heartbeat" in right.text
    access_log = (guarded_chroma.prefix.parent / "nginx-logs" / "leadinc-chroma.access.log").read_text()
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
    guarded_chroma: GuardedChroma, tmp_path: Path, database_url: str, redis_url: str
) -> None:
    port = guarded_chroma.proxy_port
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
