"""Login attempts on /auth/jwt/login_custom are limited per account and per client IP (429 with
Retry-After, the same answer whether the account exists), also under concurrency; failed logins
are counted in /metrics."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from backend.core.config import Settings
from helpers import ADMIN_TOKEN, client_for, derive_settings

PASSWORD = "correct horse battery"
LOGIN = "/auth/jwt/login_custom"


def ip(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"192.0.2.{n}"}


def sample(body: str, name: str, **labels: str) -> float:
    for line in body.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match.group(1) for key, value in labels.items()):
            return float(match.group(2))
    return 0.0


def shape(response: httpx.Response) -> tuple[int, str, str]:
    """What a visitor sees of a refusal, with the number of seconds blanked out."""
    body = response.json()
    return response.status_code, body["error_code"], re.sub(r"\d+", "N", body["detail"])


async def start(settings: Settings, tmp_path: Path, app_factory: Any, **overrides: Any) -> Any:
    return await app_factory(derive_settings(settings, tmp_path, TRUSTED_PROXIES="127.0.0.1", **overrides))


async def test_account_limit_answers_alike_for_existing_and_unknown_accounts(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await start(settings, tmp_path, app_factory, RATE_LOGIN_ACCOUNT="3/15 minutes")
    async with client_for(app) as http:
        assert (await http.post("/auth/register", json={"email": "anna@example.com", "password": PASSWORD})).is_success
        before = (await http.get("/metrics")).text
        answers: dict[str, list[httpx.Response]] = {}
        for email in ("anna@example.com", "ghost@example.com"):
            answers[email] = [
                await http.post(LOGIN, json={"email": email, "password": "wrong-password"}, headers=ip(n))
                for n in range(4)  # four addresses: the per-account limit is what refuses
            ]
        right_password_now = await http.post(LOGIN, json={"email": "anna@example.com", "password": PASSWORD})
        after = (await http.get("/metrics")).text
    for email, responses in answers.items():
        assert [r.status_code for r in responses] == [401, 401, 401, 429], email
        assert 0 < int(responses[3].headers["Retry-After"]) <= 900
    assert shape(answers["anna@example.com"][3]) == shape(answers["ghost@example.com"][3])
    assert shape(answers["anna@example.com"][3])[1] == "LOGIN_RATE_LIMITED"
    assert right_password_now.status_code == 429  # locked out until the window moves on
    labels = {"method": "password", "error_code": "INVALID_CREDENTIALS"}
    failed = sample(after, "leadinc_login_failures_total", **labels) - sample(
        before, "leadinc_login_failures_total", **labels
    )
    assert failed == 6
    limited = {"error_code": "LOGIN_RATE_LIMITED"}
    assert (
        sample(after, "leadinc_limit_rejections_total", **limited)
        - sample(before, "leadinc_limit_rejections_total", **limited)
        == 3
    )


async def test_ip_limit_spans_accounts(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await start(settings, tmp_path, app_factory, RATE_LOGIN_IP="5/15 minutes")
    async with client_for(app) as http:
        spray = [
            await http.post(LOGIN, json={"email": f"user{n}@example.com", "password": "Winter2026!"}, headers=ip(50))
            for n in range(6)
        ]
        elsewhere = await http.post(LOGIN, json={"email": "user0@example.com", "password": "x" * 8}, headers=ip(51))
    assert [r.status_code for r in spray] == [401] * 5 + [429]
    assert spray[5].json()["error_code"] == "LOGIN_RATE_LIMITED" and int(spray[5].headers["Retry-After"]) > 0
    assert elsewhere.status_code == 401


async def test_code_login_counts_against_the_same_limit(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await start(settings, tmp_path, app_factory, RATE_LOGIN_ACCOUNT="2/15 minutes")
    async with client_for(app) as http:
        await http.post("/auth/register", json={"email": "bob@example.com", "password": PASSWORD})
        issued = await http.post(
            "/api/generate-code", json={"contact": "bob@example.com"}, headers={"X-Admin-Token": ADMIN_TOKEN}
        )
        code = issued.json()["code"]
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        first = await http.post(LOGIN, json={"email": "bob@example.com", "code": wrong})
        second = await http.post(LOGIN, json={"email": "bob@example.com", "password": "wrong-password"})
        third = await http.post(LOGIN, json={"email": "bob@example.com", "code": code})
    assert (first.status_code, first.json()["error_code"]) == (400, "CODE_INVALID")
    assert second.status_code == 401
    assert third.status_code == 429 and third.json()["error_code"] == "LOGIN_RATE_LIMITED"


async def test_forty_concurrent_wrong_passwords(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await start(settings, tmp_path, app_factory)  # the default limits
    async with client_for(app) as http:
        await http.post("/auth/register", json={"email": "carol@example.com", "password": PASSWORD})
        responses = await asyncio.gather(
            *(
                http.post(LOGIN, json={"email": "carol@example.com", "password": f"guess-{n:04d}"}, headers=ip(n))
                for n in range(40)
            )
        )
    statuses = Counter(r.status_code for r in responses)
    print(f"40 concurrent wrong passwords for one account: {dict(statuses)}")
    allowed = int(settings.RATE_LOGIN_ACCOUNT.split("/")[0])
    assert statuses == Counter({401: allowed, 429: 40 - allowed})
