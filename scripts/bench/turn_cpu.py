"""CPU time of the API process per offline chat turn, measured in-process (robust to a busy machine).

``python -m scripts.bench.turn_cpu [--turns 300] [--profile PATH]``

The app (``create_app`` with the benchmark settings of ``_common.app_env``: throwaway PostgreSQL
database, Redis db 9, the demo index under ``var/bench``) runs in this process behind httpx's ASGI
transport, with no network server. 8 conversations send the benchmark's message mix with a running
number appended (no text repeats, so no cache keyed by text helps), 8 turns at a time. Reported: the
process's CPU seconds (user + system, all threads) per turn, and wall time per turn. PostgreSQL and
Redis run in their own processes and are not counted; ``scripts.bench.load`` reports those.

CPU time barely depends on what else the machine runs, so before/after comparisons of one change
are meaningful even when the load average is high (wall times are not).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from scripts.bench._common import MESSAGES, ThrowawayDatabase, app_env, flush_redis, machine, prepare_index

CONVERSATIONS = 8


async def run(turns: int, profile: Path | None) -> dict[str, float]:
    from backend.core.config import Settings
    from backend.main import create_app

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        clients = [httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") for _ in range(CONVERSATIONS)]
        sent = 0

        async def turn(client: httpx.AsyncClient, n: int) -> None:
            message = f"{MESSAGES[n % len(MESSAGES)]} {n}"
            response = await client.post("/ai/chat", json={"message": message})
            response.raise_for_status()

        async def rounds(count: int) -> None:
            nonlocal sent
            for _ in range(count // CONVERSATIONS):
                await asyncio.gather(*(turn(c, sent + i) for i, c in enumerate(clients)))
                sent += CONVERSATIONS

        for client in clients:
            (await client.get("/auth/session")).raise_for_status()
        await rounds(4 * CONVERSATIONS)  # warm-up: lazy pieces, caches of the index
        profiler = cProfile.Profile() if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        await rounds(turns)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        for client in clients:
            await client.aclose()
    done = turns // CONVERSATIONS * CONVERSATIONS
    return {"turns": done, "cpu_ms_per_turn": cpu * 1000 / done, "wall_ms_per_turn": wall * 1000 / done}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.turn_cpu", description=__doc__)
    parser.add_argument("--turns", type=int, default=300, help="measured turns (8..5000)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured turns here")
    args = parser.parse_args(argv)
    if not CONVERSATIONS <= args.turns <= 5000:
        parser.error("--turns must be within 8..5000")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}", flush=True)
    prepare_index()
    flush_redis()
    with ThrowawayDatabase() as database:
        os.environ.update(app_env(database.url, LOG_LEVEL="WARNING"))
        figures = asyncio.run(run(args.turns, args.profile))
    flush_redis()
    print(
        f"{figures['turns']} offline turns: {figures['cpu_ms_per_turn']:.2f} ms CPU per turn (this process, "
        f"all threads), {figures['wall_ms_per_turn']:.2f} ms wall per turn at {CONVERSATIONS} at a time"
    )
    print(f"after the run: {machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
