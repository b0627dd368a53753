"""Our CPU per model call, by the OpenAI SDK's HTTP transport: httpx2 (its default) against aiohttp.

``python -m scripts.bench.model_client [--calls 1500] [--concurrency 100,400] [--rounds 3] [--stream]``

The stand-in of the test suite (``tests/openai_standin.py``, a real HTTP server in its own process)
answers every completion after ``--delay`` seconds; this process makes ``--calls`` calls at a time of
``--concurrency`` through ``AsyncOpenAI`` with the product's request shape (a 3 kB system prompt and
ten messages sent as ``extra_body``) and reports its own CPU time per call (``time.process_time``:
the stand-in's CPU is not in it). The two transports alternate within each round.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from openai import AsyncOpenAI, DefaultAioHttpClient

from scripts.bench._common import BENCH_VAR_DIR, StandIn, machine

TRANSPORTS = ("httpx2", "aiohttp")
MESSAGES = [{"role": "system", "content": "Ты консультант сервиса заявок. " * 100}] + [
    {"role": "user", "content": f"вопрос номер {i}"} for i in range(10)
]


async def _calls(client: AsyncOpenAI, calls: int, concurrency: int, stream: bool) -> None:
    gate = asyncio.Semaphore(concurrency)
    body: dict[str, Any] = {"messages": MESSAGES, "temperature": 0.3}

    async def one() -> None:
        async with gate:
            if stream:
                events = await client.chat.completions.create(model="m", messages=[], extra_body=body, stream=True)
                async for _ in events:
                    pass
            else:
                await client.chat.completions.create(model="m", messages=[], extra_body=body)

    await asyncio.gather(*(one() for _ in range(calls)))


async def _cpu_per_call(base_url: str, transport: str, calls: int, concurrency: int, stream: bool) -> float:
    extra = {"http_client": DefaultAioHttpClient()} if transport == "aiohttp" else {}
    client = AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0, **extra)  # type: ignore[arg-type]
    try:
        await _calls(client, min(calls, concurrency), concurrency, stream)  # connections opened, code warm
        start = time.process_time()
        await _calls(client, calls, concurrency, stream)
        return (time.process_time() - start) / calls * 1000
    finally:
        await client.close()


async def _run(args: argparse.Namespace, base_url: str) -> None:
    print(f"machine: {machine()}; {args.calls} calls per run, stand-in delay {args.delay}s, stream={args.stream}")
    for concurrency in args.concurrency:
        for round_no in range(1, args.rounds + 1):
            figures = []
            for transport in TRANSPORTS:
                ms = await _cpu_per_call(base_url, transport, args.calls, concurrency, args.stream)
                figures.append(f"{transport} {ms:.2f}")
            print(f"concurrency {concurrency}, round {round_no}: ms CPU per call: " + ", ".join(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[100, 400])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the stand-in waits before answering")
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    BENCH_VAR_DIR.mkdir(parents=True, exist_ok=True)
    standin = StandIn(args.delay, BENCH_VAR_DIR / "model_client_standin.log")
    try:
        standin.wait_ready()
        asyncio.run(_run(args, standin.base_url))
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
