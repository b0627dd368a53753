"""One-time-code brute force spread over sessions and client IPs: the attempt limit belongs to the
code of a contact, not to a session or an IP, so /api/verify-code and the chat funnel share it; the
per-contact hourly cap bounds the total guesses; another session cannot replace a fresh code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import client_for, derive_settings

VICTIM = "victim@example.com"
OPEN = {"RATE_BURST": "1000/10 seconds", "RATE_BURST_IP": "1000/10 seconds", "TRUSTED_PROXIES": "127.0.0.1"}


def ip(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{n}"}


async def chat(http: httpx.AsyncClient, message: str, n: int) -> httpx.Response:
    return await http.post("/ai/chat", json={"message": message}, headers=ip(n))


async def api_verify(app: FastAPI, code: str, n: int) -> httpx.Response:
    async with client_for(app) as stranger:  # no cookies: a new visitor from another address
        return await stranger.post("/api/verify-code", json={"contact": VICTIM, "code": code}, headers=ip(n))


def wrong(code: str, k: int) -> str:
    return f"{(int(code) + k) % 1_000_000:06d}"


async def test_attempts_are_shared_across_sessions_ips_and_endpoints(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    values = derive_settings(settings, tmp_path, **OPEN)
    app = await app_factory(values)
    async with client_for(app) as session_a:
        await chat(session_a, "хочу зарегистрироваться", 1)
        assert (await chat(session_a, VICTIM, 1)).json()["action"] == "ask_code"
        code = latest_outbox_code(values, VICTIM)
        assert code is not None

        first = (await chat(session_a, wrong(code, 1), 1)).json()
        assert first["fields"]["error"] == "CODE_INVALID"
        left = [(await api_verify(app, wrong(code, k), 10 + k)).json() for k in (2, 3, 4)]
        assert [r["attempts_left"] for r in left] == [3, 2, 1]  # other IPs, no session: the same counter
        fifth = (await chat(session_a, wrong(code, 5), 99)).json()  # the same session from a new IP
        assert fifth["fields"]["error"] == "CODE_ATTEMPTS_EXCEEDED"

        late_api = await api_verify(app, code, 50)  # the right code, now burnt
        late_chat = (await chat(session_a, code, 51)).json()
    assert late_api.status_code == 400 and late_api.json()["error_code"] == "CODE_EXPIRED"
    assert late_chat["stage"] == 1 and late_chat["fields"]["error"] == "CODE_EXPIRED"


async def test_hourly_cap_bounds_guesses_across_sessions(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    values = derive_settings(settings, tmp_path, CODE_RESEND_SECONDS=0, **OPEN)
    app = await app_factory(values)
    issued: list[str] = []
    refused: list[httpx.Response] = []
    for n in range(7):  # seven fresh sessions from seven addresses, each asking for a code
        async with client_for(app) as visitor:
            await chat(visitor, "хочу зарегистрироваться", 20 + n)
            response = await chat(visitor, VICTIM, 20 + n)
            if response.status_code == 200 and response.json()["action"] == "ask_code":
                issued.append(str(latest_outbox_code(values, VICTIM)))
            else:
                refused.append(response)
    assert len(issued) == values.CODE_MAX_PER_HOUR  # 5 codes x 5 attempts: at most 25 guesses an hour
    assert len(refused) == 2
    for response in refused:
        assert response.status_code == 429 and response.json()["error_code"] == "CODE_LIMIT_EXCEEDED"
        assert int(response.headers["Retry-After"]) > 0


async def test_another_session_cannot_replace_a_fresh_code(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    values = derive_settings(settings, tmp_path, **OPEN)
    app = await app_factory(values)
    async with client_for(app) as owner, client_for(app) as attacker:
        await chat(owner, "хочу зарегистрироваться", 1)
        await chat(owner, VICTIM, 1)
        code = latest_outbox_code(values, VICTIM)
        await chat(attacker, "хочу зарегистрироваться", 2)
        hijack = await chat(attacker, VICTIM, 2)  # would issue a new code and void the owner's one
        assert hijack.status_code == 429 and hijack.json()["error_code"] == "CODE_RESEND_TOO_SOON"
        assert latest_outbox_code(values, VICTIM) == code
        verified = (await chat(owner, str(code), 1)).json()
    assert verified["stage"] == 2 and verified["action"] == "ask_city"
