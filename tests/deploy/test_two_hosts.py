"""Two hosts on one machine, sharing no directory: hosts A and B each run an API process and a Celery
worker (queues text and audio) with their own VAR_DIR, KNOWLEDGE_DIR and MEDIA_DIR. They share only
PostgreSQL, a Redis, the Chroma server (behind nginx with its bearer token) and an S3 server
(SeaweedFS), configured as docs/OPERATIONS.md "Several hosts" says (INDEX_STORE=redis,
MEDIA_STORAGE=s3, CHROMA_TOKEN).

* a voice upload on A is transcribed by B's worker (A's is not running yet) and the reply audio is
  fetched through A;
* a reindex run on A is served by B within 5 s, with no error while both take >= 20 turns/s;
* stopping host B (API and worker) loses no accepted message or task.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy.chroma_proxy import GuardedChroma, guarded_chroma
from deploy.support import spawn, stop, wait_for_port
from faults.support import RedisServer, free_port
from s3_server import SeaweedS3
from voice.samples import make_clip, probe
from voice.speech_standin import SpeechStandIn
from voice.workers import WorkerProcess

from backend.core.config import ROOT_DIR
from backend.knowledge.indexer import build_index
from helpers import ADMIN_TOKEN, TEST_SECRET, make_settings, stored_messages

TOKEN = "two-hosts-chroma-token-0123456789"
BUCKET = "two-hosts"
FIXTURES = ROOT_DIR / "tests" / "knowledge" / "fixtures"
NEW_ARTICLE = """---
article_id: "977"
title: Выгрузка заявок в таблицу
summary: Заявки выгружаются в таблицу одной кнопкой в разделе «Экспорт».
tags: [экспорт, таблица, выгрузка]
---
Откройте раздел «Экспорт» и выберите формат файла.
"""
QUESTIONS = ["Как вернуть деньги?", "Как удалить аккаунт?", "Сколько стоит подключение?"]
pytestmark = pytest.mark.timeout(900)


@dataclass
class Host:
    name: str
    env: dict[str, str]
    root: Path
    port: int = 0
    api: Any = None
    worker: WorkerProcess | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_api(self) -> None:
        self.port = free_port()
        log = self.root / f"api-{len(self.logs)}.log"
        self.logs.append(log)
        argv = [sys.executable, "-m", "uvicorn", "--factory", "backend.main:app_factory"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self.api = spawn(argv, log, env=self.env)
        wait_for_port(self.port, self.api, log, timeout=180)

    def start_worker(self) -> None:
        self.worker = WorkerProcess(self.env, self.root).start(timeout=180)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.api is not None:
            stop(self.api, signal.SIGTERM, timeout=30)


@dataclass
class Cluster:
    a: Host
    b: Host
    chroma: GuardedChroma
    seaweed: SeaweedS3
    speech: SpeechStandIn
    faq_dir: Path
    settings_a: Any


def host_env(root: Path, shared: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STT_", "TTS_", "S3_", "RATE_"))}
    env |= shared
    env |= {
        "VAR_DIR": str(root / "var"),
        "KNOWLEDGE_DIR": str(root / "var" / "knowledge"),
        "MEDIA_DIR": str(root / "var" / "media"),
        "ERROR_JOURNAL_PATH": str(root / "error_journal.jsonl"),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",  # the worker's " ready." line, which WorkerProcess waits for
    }
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("two-hosts")
    faq_dir, analytics_dir = root / "corpus" / "faq", root / "corpus" / "analytics"
    shutil.copytree(FIXTURES / "faq", faq_dir)
    shutil.copytree(FIXTURES / "analytics", analytics_dir)
    redis_dir = root / "redis"
    redis_dir.mkdir()
    redis_server = RedisServer(redis_dir).start()
    seaweed = SeaweedS3(root / "seaweed").start()
    speech = SpeechStandIn().start()
    hosts: list[Host] = []
    with guarded_chroma(root / "chroma", TOKEN) as chroma:
        try:
            shared = {
                "ENVIRONMENT": "test",
                "SECRET": TEST_SECRET,
                "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_server.url,
                "CHROMA_HOST": "127.0.0.1",
                "CHROMA_PORT": str(chroma.proxy_port),
                "CHROMA_TOKEN": TOKEN,
                "INDEX_STORE": "redis",
                "INDEX_REDIS_PREFIX": f"two-hosts:{uuid.uuid4().hex}",
                "FAQ_CORPUS_DIR": str(faq_dir),
                "ANALYTICS_CORPUS_DIR": str(analytics_dir),
                "STT_BASE_URL": speech.base_url,
                "TTS_PROVIDER": "espeak",
                "SECURE_COOKIES": "false",
                "RATE_BURST": "100000/10 seconds",
                "RATE_BURST_IP": "100000/10 seconds",
                "RATE_DAILY_GUEST": "100000/day",
                "RATE_DAILY_IP": "100000/day",
                "RATE_OFFTOPIC": "100000/day",
                "CELERY_VISIBILITY_TIMEOUT": "5",
                **seaweed.settings(BUCKET),
            }
            a = Host("a", host_env(root / "host-a", shared), root / "host-a")
            b = Host("b", host_env(root / "host-b", shared), root / "host-b")
            hosts += [a, b]
            for host in hosts:
                host.root.mkdir(parents=True, exist_ok=True)
            settings_a = make_settings(
                root,
                **{k: v for k, v in a.env.items() if k in shared or k in ("VAR_DIR", "KNOWLEDGE_DIR", "MEDIA_DIR")},
            )
            build_index(settings_a)  # "reindex on host A": vectors to Chroma, the generation to Redis
            a.start_api()
            b.start_api()
            b.start_worker()  # A's worker is started by the first test, after the upload
            yield Cluster(a, b, chroma, seaweed, speech, faq_dir, settings_a)
        finally:
            for host in hosts:
                host.stop()
            speech.stop()
            seaweed.kill()
            redis_server.kill()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def _wait_task(http: httpx.AsyncClient, task_id: str, within: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        response = await http.get(f"/ai/tasks/{task_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def test_upload_on_a_is_transcribed_on_b_and_the_reply_audio_is_fetched_through_a(
    cluster: Cluster, tmp_path: Path
) -> None:
    a, b = cluster.a, cluster.b
    assert b.worker is not None and a.worker is None
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as on_a:
        clip = make_clip(tmp_path, "ogg", 1.5)
        accepted = await on_a.post(
            "/ai/voice_upload",
            files={"file": ("voice.ogg", clip.read_bytes(), "audio/ogg")},
            data={"voice_reply": "true", "audio_format": "ogg"},
        )
        assert accepted.status_code == 202, accepted.text
        task_id = accepted.json()["task_id"]
        body = await _wait_task(on_a, task_id)
        assert body["status"] == "done", body
        assert body["result"]["transcript"] == cluster.speech.transcript
        url = body["result"]["audio_url"]
        served = await on_a.get(url)
    assert served.status_code == 307, served.text
    async with httpx.AsyncClient(timeout=30) as browser:
        audio = await browser.get(served.headers["location"])
    assert audio.status_code == 200
    (tmp_path / "reply.ogg").write_bytes(audio.content)
    assert probe(tmp_path / "reply.ogg")["codec_name"] == "opus"
    assert "voice.stt" in b.worker.log() and "succeeded" in b.worker.log()  # B's worker did the work
    assert _files(Path(a.env["MEDIA_DIR"])) == _files(Path(b.env["MEDIA_DIR"])) == []  # no local media
    a.start_worker()


async def _turns(base: str, stop_at: float, errors: list[str], done: list[float], clients: int) -> None:
    async def visitor(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            i = 0
            while time.monotonic() < stop_at:
                question = QUESTIONS[(n + i) % len(QUESTIONS)]
                i += 1
                try:
                    response = await http.post("/ai/chat", json={"message": question})
                except httpx.HTTPError as exc:
                    errors.append(f"{base}: {type(exc).__name__}")
                    continue
                if response.status_code != 200:
                    errors.append(f"{base}: {response.status_code} {response.text[:200]}")
                else:
                    done.append(time.monotonic())

    await asyncio.gather(*(visitor(n) for n in range(clients)))


async def _b_answers_from_the_new_article(base: str) -> bool:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post("/ai/chat", json={"message": "Как выгрузить заявки в таблицу?"})
    sources = response.json().get("sources") or [] if response.status_code == 200 else []
    return any(source.get("article_id") == "977" for source in sources)


async def test_a_reindex_on_a_is_served_by_b_within_5_s_under_load(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    assert not await _b_answers_from_the_new_article(b.url)
    errors: list[str] = []
    done: list[float] = []
    started = time.monotonic()
    load = asyncio.gather(
        _turns(a.url, started + 25, errors, done, clients=6), _turns(b.url, started + 25, errors, done, clients=6)
    )
    await asyncio.sleep(5)
    (cluster.faq_dir / "export.md").write_text(NEW_ARTICLE, encoding="utf-8")
    summary = await asyncio.to_thread(build_index, cluster.settings_a)  # run on host A
    published = time.monotonic()
    assert summary.faq_articles == 4
    while not await _b_answers_from_the_new_article(b.url):
        assert time.monotonic() - published < 5.0, "host B did not serve the new generation within 5 s"
        await asyncio.sleep(0.1)
    served_after = time.monotonic() - published
    # Host A checks its manifest at most once a second too, so it may switch a moment after B.
    while not await _b_answers_from_the_new_article(a.url):
        assert time.monotonic() - published < 5.0, "host A did not serve its own reindex within 5 s"
        await asyncio.sleep(0.1)
    await load
    window = [t for t in done if started + 5 <= t <= started + 25]
    rate = len(window) / 20.0
    assert errors == [], errors[:5]
    assert rate >= 20.0, f"only {rate:.1f} turns/s over both hosts"
    print(f"\nB served the new generation {served_after:.2f} s after the publish; {rate:.1f} turns/s, 0 errors")


async def test_stopping_host_b_loses_no_accepted_message(cluster: Cluster, tmp_path: Path) -> None:
    a, b = cluster.a, cluster.b
    marker = uuid.uuid4().hex[:8]
    accepted: list[str] = []
    refused: list[str] = []

    async with httpx.AsyncClient(base_url=b.url, timeout=30) as on_b:
        upload = await on_b.post(
            "/ai/voice_upload",
            files={"file": ("v.mp3", make_clip(tmp_path, "mp3", 1.0).read_bytes(), "audio/mpeg")},
        )
        assert upload.status_code == 202, upload.text
        cookies = dict(on_b.cookies)

        async def talk(base: str, n: int) -> None:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                for i in range(40):
                    text = f"Как вернуть деньги? {marker}-{base[-5:]}-{n}-{i}"
                    try:
                        response = await http.post("/ai/chat", json={"message": text})
                    except httpx.HTTPError:
                        refused.append(text)  # B is gone: never accepted
                        await asyncio.sleep(0.02)
                        continue
                    (accepted if response.status_code == 200 else refused).append(text)

        talking = asyncio.gather(*(talk(host.url, n) for host in (a, b) for n in range(3)))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(b.stop)  # SIGTERM to B's API and worker, mid-conversation
        await talking

    stored = {text for _, text, _ in stored_messages(cluster.settings_a, "user") if marker in text}
    assert accepted and set(accepted) <= stored, sorted(set(accepted) - stored)[:5]
    # the voice task accepted by B is finished by A's worker, readable through A with B's cookies
    async with httpx.AsyncClient(base_url=a.url, timeout=30, cookies=cookies) as on_a:
        body = await _wait_task(on_a, upload.json()["task_id"])
    assert body["status"] == "done", body
