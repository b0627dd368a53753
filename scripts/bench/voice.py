"""Voice benchmarks for BENCHMARKS.md (section "Voice"), on the embedded default.

    .venv/bin/python -m scripts.bench.voice [--runs 50] [--clips 10]

Starts everything it needs in a temporary directory: the embedded redis-server (unix socket),
SQLite with the migrations, one worker per queue (``text``, ``audio``; prefork, concurrency 1), an
instant OpenAI-compatible STT stand-in on 127.0.0.1, and the app in-process. Measures:

1. queue latency, enqueue → start, with idle workers: one task at a time; the task is
   ``voice.cleanup`` on an empty media directory (runs in ~1 ms), so enqueue → finished (the result's
   ``date_done``) bounds enqueue → start from above;
2. offline TTS (espeak-ng + ffmpeg) time per 100 characters, per output format, in-process;
3. upload → reply for a 5 s clip through ``POST /ai/voice_upload`` and ``GET /ai/tasks/{id}``
   polled every 20 ms: stt → chat turn, and stt → chat turn → tts (mp3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
from alembic import command
from alembic.config import Config
from httpx import ASGITransport, AsyncClient

from backend.core.celery import create_celery_app, worker_argv
from backend.core.config import ROOT_DIR, Settings
from backend.core.redis import ensure_embedded_redis
from backend.knowledge.indexer import ensure_index
from backend.main import create_app
from backend.voice.constants import OUTPUT_FORMATS
from backend.voice.media.local import LocalMediaStorage
from backend.voice.speech import synthesize
from backend.voice.tts.espeak import EspeakSynthesizer
from scripts.dev import start_workers, stop_workers

TEXT = (
    "Здравствуйте! Мы помогаем компаниям находить новых клиентов: собираем заявки из поиска, "
    "соцсетей и карт, проверяем их и передаём в ваш отдел продаж. Подключение занимает один день, "
    "первые заявки приходят уже на следующей неделе. Расскажите, чем занимается ваша компания, "
    "и я подберу подходящий тариф и покажу аналитику по вашей нише."
)


class _InstantSTT(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = json.dumps({"text": "Сколько стоит подключение?"}, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(_pct(values, 0.5), 1),
        "p95": round(_pct(values, 0.95), 1),
        "mean": round(statistics.fmean(values), 1),
        "n": len(values),
    }


def bench_queue_latency(settings: Settings, redis_url: str, runs: int) -> dict[str, float]:
    app = create_celery_app(settings, redis_url)
    latencies: list[float] = []
    try:
        for _ in range(runs + 3):
            sent = datetime.now(UTC)
            result = app.signature("voice.cleanup").apply_async()
            result.get(timeout=30)
            done = result.date_done
            done = done.replace(tzinfo=UTC) if done.tzinfo is None else done
            latencies.append((done - sent).total_seconds() * 1000)
            time.sleep(0.05)  # idle again before the next one
    finally:
        app.close()
    return _summary(latencies[3:])  # the first ones warm the pool up


def bench_tts(workdir: Path, runs: int) -> dict[str, dict[str, float]]:
    storage = LocalMediaStorage(workdir / "tts-media", "/media")
    tts = EspeakSynthesizer("ru")
    out: dict[str, dict[str, float]] = {}
    for fmt in OUTPUT_FORMATS:
        per_100: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            synthesize(tts, storage, TEXT, fmt)
            per_100.append((time.perf_counter() - started) * 1000 * 100 / len(TEXT))
        out[fmt] = _summary(per_100)
    return out


async def bench_upload(settings: Settings, clip: Path, runs: int) -> dict[str, dict[str, float]]:
    app = create_app(settings)
    results: dict[str, list[float]] = {"reply": [], "reply+tts": []}
    data = await anyio.Path(clip).read_bytes()
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="https://bench") as http,
    ):
        for i in range(runs + 1):
            for label, voice in (("reply", "false"), ("reply+tts", "true")):
                started = time.perf_counter()
                response = await http.post(
                    "/ai/voice_upload",
                    files={"file": ("clip.ogg", data, "audio/ogg")},
                    data={"voice_reply": voice, "audio_format": "mp3"},
                )
                response.raise_for_status()
                url = response.json()["status_url"]
                while True:
                    body = (await http.get(url)).json()
                    if body["status"] in ("done", "failed"):
                        break
                    await asyncio.sleep(0.02)
                if body["status"] != "done":
                    raise RuntimeError(f"voice chain failed: {body}")
                if i:  # the first round warms up
                    results[label].append((time.perf_counter() - started) * 1000)
    return {label: _summary(values) for label, values in results.items()}


def _make_clip(folder: Path) -> Path:
    clip = folder / "clip-5s.ogg"
    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "ru", "-w", str(wav), TEXT[:160]], check=True, timeout=30)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-af", "apad", "-t", "5",
         "-ac", "1", "-ar", "16000", "-c:a", "libopus", "-b:a", "24k", str(clip)],
        check=True, timeout=30,
    )  # fmt: skip
    return clip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="queue-latency samples")
    parser.add_argument("--tts-runs", type=int, default=10, help="TTS samples per format")
    parser.add_argument("--clips", type=int, default=10, help="upload-to-reply samples per variant")
    args = parser.parse_args()

    stt = ThreadingHTTPServer(("127.0.0.1", 0), _InstantSTT)
    threading.Thread(target=stt.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="leadinc-bench-") as tmp:
        root = Path(tmp)
        values: dict[str, Any] = {
            "ENVIRONMENT": "test",
            "VAR_DIR": root / "var",
            "MEDIA_DIR": root / "media",
            "REDIS_URL": "",
            "DATABASE_URL": "",
            "STT_BASE_URL": f"http://127.0.0.1:{stt.server_address[1]}/v1",
            "TTS_PROVIDER": "espeak",
            "LOG_LEVEL": "WARNING",
            "MAX_BODY_BYTES": 12 * 1024 * 1024,
            "RATE_BURST": "100000/10 seconds",
            "RATE_BURST_IP": "100000/10 seconds",
            "RATE_DAILY_GUEST": "100000/day",
            "RATE_DAILY_IP": "100000/day",
            "RATE_NEW_SESSION_IP": "100000/day",
        }
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        env = {**os.environ, **{k: str(v) for k, v in values.items()}}
        os.environ.update(env)  # alembic's env.py reads settings from the environment
        command.upgrade(Config(str(ROOT_DIR / "alembic.ini")), "head")
        ensure_index(settings, progress=False)  # the chat step of the chain runs the real engine
        redis_url = ensure_embedded_redis(settings)
        commands = [worker_argv("text", loglevel="WARNING"), worker_argv("audio", loglevel="WARNING")]
        workers = start_workers(commands, env, output=subprocess.DEVNULL)
        try:
            time.sleep(4)  # both workers ready
            report = {
                "machine": f"{os.cpu_count()} cores, {sys.platform}",
                "queue_latency_ms": bench_queue_latency(settings, redis_url, args.runs),
                "tts_ms_per_100_chars": bench_tts(root, args.tts_runs),
                "upload_to_reply_ms": asyncio.run(bench_upload(settings, _make_clip(root), args.clips)),
            }
        finally:
            stop_workers(workers)
            pid_file = settings.embedded_redis_socket.parent / "redis.pid"
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            stt.shutdown()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
