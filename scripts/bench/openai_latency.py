"""Turn time with a slow language model: many conversations at once versus two turns at a time.

``python -m scripts.bench.openai_latency [--conversations 200] [--delay 1.0]``

The real app (uvicorn, one process, PostgreSQL + Redis db 9 as in ``chat_load``) talks to the
OpenAI-compatible stand-in of the test suite (``tests/openai_standin.py``, a real HTTP server in its
own process) which answers every chat completion after ``--delay`` seconds. Two runs:

* concurrent: every conversation sends its turn at the same moment; the app awaits the model
  without blocking, so all turns overlap;
* two at a time: the same turns, but at most two in flight (a client-side semaphore), which is what
  the original design's two Celery ``text`` workers allowed; a visitor's turn time includes the wait.

Every run is bounded by ``--max-seconds``; unfinished turns are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from backend.core.config import ROOT_DIR
from scripts.bench._common import (
    BENCH_VAR_DIR,
    Server,
    StandIn,
    ThrowawayDatabase,
    app_env,
    flush_redis,
    machine,
    percentiles,
    prepare_index,
)

REPLY = {"scenario": "FAQ", "action": "answer", "reply": "Тарифы начинаются от 9 900 ₽ в месяц.", "fields": {}}
QUESTIONS = ["сколько стоят тарифы?", "как оплатить по счёту?", "есть интеграция с amoCRM?", "какие у вас гарантии?"]


def serve_standin(port: int, delay: float) -> None:
    """Runs the stand-in in this process until killed (the parent stops it)."""
    sys.path.insert(0, str(ROOT_DIR / "tests"))
    from openai_standin import OpenAIStandIn, Scripted

    standin = OpenAIStandIn()
    standin.port = port
    standin.default = Scripted(content=json.dumps(REPLY, ensure_ascii=False), delay=delay)
    standin.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        standin.stop()


@dataclass
class RunResult:
    name: str
    wall: float = 0.0
    times: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0

    def describe(self) -> str:
        if not self.times:
            return f"{self.name}: no turn finished; failures {self.failures}"
        p = percentiles(self.times)
        return (
            f"{self.name}: {len(self.times)} turns in {self.wall:.1f} s; turn time median {p[50]:.2f} s, "
            f"p95 {p[95]:.2f} s, max {max(self.times):.2f} s"
            + (f"; failures {self.failures}" if self.failures else "")
            + (f"; unfinished at the time limit {self.unfinished}" if self.unfinished else "")
        )


async def run_turns(
    name: str, base_url: str, conversations: int, parallel: int | None, max_seconds: float
) -> RunResult:
    result = RunResult(name)
    gate = asyncio.Semaphore(parallel) if parallel else None
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base_url, timeout=max_seconds, limits=limits) for _ in range(conversations)]
    try:
        await asyncio.gather(*(c.get("/auth/session") for c in clients))  # each visitor has its own session

        async def visitor(index: int, client: httpx.AsyncClient) -> None:
            sent = time.perf_counter()  # the visitor presses "send" now; any queueing counts
            try:
                if gate is not None:
                    async with gate:
                        response = await client.post("/ai/chat", json={"message": QUESTIONS[index % len(QUESTIONS)]})
                else:
                    response = await client.post("/ai/chat", json={"message": QUESTIONS[index % len(QUESTIONS)]})
            except httpx.HTTPError as exc:
                result.failures[type(exc).__name__] = result.failures.get(type(exc).__name__, 0) + 1
                return
            if response.status_code != 200:
                result.failures[str(response.status_code)] = result.failures.get(str(response.status_code), 0) + 1
                return
            result.times.append(time.perf_counter() - sent)

        began = time.perf_counter()
        tasks = [asyncio.create_task(visitor(i, c)) for i, c in enumerate(clients)]
        _done, pending = await asyncio.wait(tasks, timeout=max_seconds)
        for task in pending:
            task.cancel()
        result.unfinished = len(pending)
        result.wall = time.perf_counter() - began
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.openai_latency", description=__doc__)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the stand-in waits before answering")
    parser.add_argument("--max-seconds", type=float, default=150.0, help="bound of each run")
    parser.add_argument("--serve-standin", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_standin:
        serve_standin(args.serve_standin, args.delay)
        return 0
    if not 1 <= args.max_seconds <= 600:
        parser.error("--max-seconds must be within 1..600")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    prepare_index()
    flush_redis()
    logs = BENCH_VAR_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    standin = StandIn(args.delay, logs / "standin.log")
    results = []
    try:
        with ThrowawayDatabase() as database:
            env = app_env(
                database.url,
                OPENAI_API_KEY="sk-bench",
                OPENAI_BASE_URL=standin.base_url,
                OPENAI_TIMEOUT_SECONDS="60",
                OPENAI_MAX_RETRIES="0",
            )
            server = Server("backend.main:app_factory", env, logs / "app_openai.log")
            try:
                server.wait_ready()
                for name, parallel in (
                    (f"{args.conversations} conversations at once", None),
                    ("two turns at a time (the two Celery text workers of the original design)", 2),
                ):
                    print(f"running: {name}", flush=True)
                    results.append(
                        asyncio.run(run_turns(name, server.base_url, args.conversations, parallel, args.max_seconds))
                    )
            finally:
                server.stop()
    finally:
        standin.stop()
    print(f"\nstand-in answers after {args.delay:.1f} s; {args.conversations} visitors send one turn each at t=0")
    for result in results:
        print(result.describe())
    print(f"after the run: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
