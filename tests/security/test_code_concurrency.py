"""500 concurrent wrong guesses at one code, spread over two API processes on real Redis: the code is
compared at most CODE_MAX_ATTEMPTS times (the compare, the count and the burn are one Lua script).

A comparison is visible from outside: it answers 200, CODE_INVALID or CODE_ATTEMPTS_EXCEEDED; a
guess that finds no code (burnt) answers CODE_EXPIRED without comparing anything."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
from security.api_processes import api_processes

from backend.core.config import Settings
from helpers import ADMIN_TOKEN

GUESSES = 500
VICTIM = "concurrent@example.com"
OPEN = {"RATE_VERIFY_CODE_IP": "100000/minute", "RATE_VERIFY_CODE_CONTACT": "100000/minute"}
COMPARED = {"OK", "CODE_INVALID", "CODE_ATTEMPTS_EXCEEDED"}


async def test_concurrent_guesses_across_two_processes_compare_at_most_max_attempts(
    settings: Settings, tmp_path: Path
) -> None:
    with api_processes(settings, tmp_path, count=2, **OPEN) as urls:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            issued = await http.post(
                f"{urls[0]}/api/generate-code", json={"contact": VICTIM}, headers={"X-Admin-Token": ADMIN_TOKEN}
            )
            assert issued.status_code == 200, issued.text
            code = int(issued.json()["code"])
            guesses = [f"{(code + k) % 1_000_000:06d}" for k in range(1, GUESSES + 1)]

            async def guess(n: int, value: str) -> str:
                response = await http.post(
                    f"{urls[n % len(urls)]}/api/verify-code", json={"contact": VICTIM, "code": value}
                )
                assert response.status_code in (200, 400), response.text
                return "OK" if response.status_code == 200 else str(response.json()["error_code"])

            outcomes = Counter(await asyncio.gather(*(guess(n, g) for n, g in enumerate(guesses))))
    compared = sum(outcomes[o] for o in COMPARED)
    print(f"outcomes of {GUESSES} concurrent guesses over 2 processes: {dict(outcomes)}; compared: {compared}")
    assert compared <= settings.CODE_MAX_ATTEMPTS, outcomes
    assert outcomes == Counter(
        {
            "CODE_INVALID": settings.CODE_MAX_ATTEMPTS - 1,
            "CODE_ATTEMPTS_EXCEEDED": 1,
            "CODE_EXPIRED": GUESSES - settings.CODE_MAX_ATTEMPTS,
        }
    )
