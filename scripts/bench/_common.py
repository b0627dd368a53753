"""Shared pieces of the benchmarks: a throwaway PostgreSQL database, the demo index, a uvicorn
subprocess, the closed-loop HTTP clients and the statistics. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import redis
from alembic import command
from alembic.config import Config

from backend.core.config import ROOT_DIR, Settings
from backend.knowledge.indexer import build_index

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
BENCH_VAR_DIR = ROOT_DIR / "var" / "bench"
SECRET = "bench-secret-that-is-long-enough-0123456789"  # noqa: S105 - a throwaway local run
# The benchmark drives many turns per second from one client IP: the flood and daily limits are
# raised so they never answer 429 (the limiter itself still runs: its Redis calls are measured).
RAISED_LIMITS = {
    "RATE_BURST": "1000000/10 seconds",
    "RATE_BURST_IP": "1000000/10 seconds",
    "RATE_DAILY_GUEST": "10000000/day",
    "RATE_DAILY_USER": "10000000/day",
    "RATE_DAILY_IP": "10000000/day",
    "RATE_OFFTOPIC": "10000000/day",
    "RATE_NEW_SESSION_IP": "10000000/day",
}

# A mix of what visitors send: FAQ questions, small talk, analytics requests (guests get
# need_registration after the niche is resolved, which is the common case on a public widget).
MESSAGES = [
    "сколько стоят ваши тарифы?",
    "привет",
    "покажи аналитику по стоматологии",
    "как вы заменяете некачественные заявки",
    "какая сегодня погода",
    "какой спрос на натяжные потолки",
    "есть интеграция с amoCRM?",
    "спасибо, понятно",
    "средний чек в нише грузоперевозки",
    "в каких городах вы работаете",
    "расскажи шутку",
    "статистика по клинингу",
]


def machine() -> str:
    cores = os.cpu_count()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0.0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.node()}: {cores} cores, {mem:.0f} GiB, Python {platform.python_version()}, load avg {load}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayDatabase:
    def __init__(self, admin_dsn: str = ADMIN_DSN) -> None:
        self.admin_dsn = admin_dsn
        self.name = f"leadinc_bench_{uuid.uuid4().hex[:10]}"
        self.url = f"{admin_dsn.rsplit('/', 1)[0]}/{self.name}"

    def _run(self, sql: str) -> None:
        conn = psycopg2.connect(self.admin_dsn, connect_timeout=5)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def __enter__(self) -> ThrowawayDatabase:
        self._run(f'CREATE DATABASE "{self.name}"')
        config = Config(str(ROOT_DIR / "alembic.ini"))
        config.set_main_option("script_location", str(ROOT_DIR / "alembic"))
        config.attributes["configure_logger"] = False
        config.attributes["database_url"] = self.url
        command.upgrade(config, "head")
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def prepare_index(var_dir: Path = BENCH_VAR_DIR) -> None:
    build_index(Settings(_env_file=None, ENVIRONMENT="test", VAR_DIR=var_dir))  # type: ignore[call-arg]
    # Forget the embedded Chroma the build opened: an in-process benchmark (turn_cpu) then opens its
    # own on the same path, which chromadb refuses while the build's is cached ("already exists ...
    # with different settings"), so the first run on a fresh VAR_DIR failed. Imported here, not at
    # the top: chromadb imports numpy, which must come after backend/__init__.py caps its BLAS threads.
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def flush_redis(url: str = BENCH_REDIS_URL) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RATE_", "DATABASE_", "REDIS_"))}
    env.update(
        {
            "ENVIRONMENT": "development",
            "SECRET": SECRET,
            "SECRET_ADMIN_TOKEN": SECRET,
            "DATABASE_URL": database_url,
            "REDIS_URL": BENCH_REDIS_URL,
            "VAR_DIR": str(BENCH_VAR_DIR),
            "SECURE_COOKIES": "false",  # plain http on 127.0.0.1
            "LOG_LEVEL": "WARNING",
            "CELERY_EAGER": "true",
            **RAISED_LIMITS,
        }
    )
    env.update(extra)
    return env


class Server:
    """``uvicorn --factory <target>`` in one process, on a free port, until stopped."""

    def __init__(self, target: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        cmd = [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--workers", "1", "--no-access-log", "--log-level", "warning"]
        self._proc = subprocess.Popen(cmd, env=env, cwd=ROOT_DIR, stdout=self._log, stderr=subprocess.STDOUT)
        log.with_suffix(".pid").write_text(str(self._proc.pid))  # for a profiler: py-spy record -p <pid>

    def wait_ready(self, path: str = "/health", timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"server exited with {self._proc.returncode}; see {self._log.name}")
            try:
                if httpx.get(self.base_url + path, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready after {timeout} s; see {self._log.name}")

    def stop(self) -> None:
        _terminate(self._proc, 15)
        self._log.close()


class StandIn:
    """The OpenAI-compatible stand-in of the test suite (``tests/openai_standin.py``) in its own process,
    answering every chat completion after ``delay`` seconds, on a free port, until stopped."""

    def __init__(self, delay: float, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._log = log.open("w")
        argv = [sys.executable, "-m", "scripts.bench.openai_latency", "--serve-standin", str(self.port)]
        argv += ["--delay", str(delay)]
        self.proc = subprocess.Popen(argv, cwd=ROOT_DIR, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the stand-in exited with {self.proc.returncode}; see {self._log.name}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the stand-in did not start in {timeout} s; see {self._log.name}")

    def stop(self) -> None:
        _terminate(self.proc, 10)
        self._log.close()


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@dataclass
class LoadResult:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, successful turns only
    statuses: Counter[int] = field(default_factory=Counter)
    scenarios: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def turns_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        if not self.latencies:
            return f"{self.name}: no successful turns; statuses {dict(self.statuses)} errors {dict(self.errors)}"
        p = percentiles(self.latencies)
        return (
            f"{self.name}: {len(self.latencies)} turns in {self.seconds:.1f} s = {self.turns_per_second:.1f} turns/s; "
            f"latency p50 {p[50] * 1000:.0f} ms, p95 {p[95] * 1000:.0f} ms, p99 {p[99] * 1000:.0f} ms, "
            f"max {max(self.latencies) * 1000:.0f} ms; statuses {dict(self.statuses)}"
            + (f"; scenarios {dict(self.scenarios)}" if self.scenarios else "")
            + (f"; errors {dict(self.errors)}" if self.errors else "")
        )


def percentiles(values: list[float]) -> dict[int, float]:
    if len(values) == 1:
        return {50: values[0], 95: values[0], 99: values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {50: statistics.median(values), 95: cuts[94], 99: cuts[98]}


Turn = Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]]


async def closed_loop(
    name: str,
    base_url: str,
    clients: int,
    seconds: float,
    turn: Turn,
    start: Callable[[httpx.AsyncClient], Awaitable[Any]] | None = None,
) -> LoadResult:
    """``clients`` concurrent clients, each with its own cookie jar, sending turns back to back for ``seconds``."""
    result = LoadResult(name, seconds)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    sessions = [httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) for _ in range(clients)]
    try:
        if start is not None:
            await asyncio.gather(*(start(s) for s in sessions))
        began = time.perf_counter()
        deadline = began + seconds

        async def worker(index: int, client: httpx.AsyncClient) -> None:
            n = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await turn(client, index, n)
                except httpx.HTTPError as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                finally:
                    n += 1
                result.statuses[response.status_code] += 1
                if response.status_code == 200:
                    result.latencies.append(time.perf_counter() - t0)
                    scenario = response.json().get("scenario")
                    if scenario:
                        result.scenarios[scenario] += 1

        await asyncio.gather(*(worker(i, s) for i, s in enumerate(sessions)))
        result.seconds = time.perf_counter() - began
    finally:
        await asyncio.gather(*(s.aclose() for s in sessions))
    return result
