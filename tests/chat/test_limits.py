"""SPEC section 5 limits over HTTP: burst, daily, OFFTOPIC quota, per client IP, Redis down."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx

from backend.core.config import Settings
from helpers import client_for, derive_settings, stored_messages


async def post(client: httpx.AsyncClient, message: str, **headers: str) -> httpx.Response:
    return await client.post("/ai/chat", json={"message": message}, headers=headers)


def count_user_messages(settings: Settings) -> int:
    return len(stored_messages(settings, "user"))


async def test_burst_limit(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_BURST="2/10 seconds"))
    async with client_for(app) as http:
        assert (await post(http, "привет")).status_code == 200
        assert (await post(http, "как дела")).status_code == 200
        third = await post(http, "ещё раз привет")
    assert third.status_code == 429
    assert third.json()["error_code"] == "FLOOD_LIMIT"
    assert 1 <= int(third.headers["Retry-After"]) <= 10
    assert "Подождите" in third.json()["detail"]
    assert count_user_messages(settings) == 2  # the rejected message was never accepted
    # The script that counts the limits takes the turn lock only when they all allow the turn.
    sid = http.cookies[settings.SESSION_COOKIE_NAME]
    assert await app.state.redis.exists(f"leadinc:turn:{sid}") == 0


async def test_daily_quota_is_lower_for_guests(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_DAILY_GUEST="1/day", RATE_DAILY_USER="3/day"))
    async with client_for(app) as guest:
        assert (await post(guest, "тарифы")).status_code == 200
        over = await post(guest, "тарифы?")
        assert over.status_code == 429 and over.json()["error_code"] == "DAILY_LIMIT"
    async with client_for(app) as user:
        await user.post("/auth/register", json={"email": "quota@example.com", "password": "long-password-1"})
        await user.post("/auth/jwt/login_custom", json={"email": "quota@example.com", "password": "long-password-1"})
        codes = [(await post(user, f"вопрос {i} про тарифы")).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]


async def test_offtopic_quota(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_OFFTOPIC="2/day"))
    async with client_for(app) as http:
        statuses = [(await post(http, message)).status_code for message in ("привет", "как дела", "расскажи анекдот")]
        business = await post(http, "какие у вас тарифы?")
    assert statuses == [200, 200, 429]
    assert business.status_code == 200  # only small talk is capped
    assert count_user_messages(settings) == 4  # the capped message was still stored


async def test_per_ip_limit_uses_forwarded_for_only_from_trusted_proxies(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_BURST_IP="2/10 seconds"))
    for _ in range(2):
        async with client_for(app) as fresh_session:  # new session each time, same client IP
            assert (await post(fresh_session, "привет", **{"X-Forwarded-For": "203.0.113.7"})).status_code == 200
    async with client_for(app) as third:
        blocked = await post(third, "привет", **{"X-Forwarded-For": "203.0.113.7"})
        other_ip = await post(third, "привет", **{"X-Forwarded-For": "198.51.100.9"})
    assert blocked.status_code == 429
    assert other_ip.status_code == 200

    untrusted = await app_factory(derive_settings(settings, tmp_path, RATE_BURST_IP="2/10 seconds", TRUSTED_PROXIES=""))
    async with client_for(untrusted) as spoofer:
        codes = [(await post(spoofer, "привет", **{"X-Forwarded-For": f"192.0.2.{i}"})).status_code for i in range(3)]
    assert codes[-1] == 429  # a forged header from an untrusted peer does not spread the load


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_redis_down_means_503_not_unlimited(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"))
    async with client_for(app) as http:
        response = await post(http, "привет")
    assert response.status_code == 503
    assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
