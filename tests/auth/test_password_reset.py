"""Password reset and e-mail verification end to end: fastapi-users' routes, the token mailed over a
real SMTP server (aiosmtpd) and read from the received message, then redeemed. A used, expired,
forged or wrong-purpose token gets its own error code in the one error shape, never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi_users.jwt import generate_jwt
from smtp_standin import SMTPStandIn, token_in

from backend.core.config import Settings
from backend.core.keys import Purpose, derive_secret
from helpers import client_for, derive_settings

OLD, NEW = "old password 123", "new password 456"


@pytest.fixture
async def mail_client(settings: Settings, tmp_path: Path, app_factory: Any, smtp: SMTPStandIn) -> Any:
    async def make(**overrides: Any) -> httpx.AsyncClient:
        app = await app_factory(derive_settings(settings, tmp_path, **{**smtp.settings_values(), **overrides}))
        return client_for(app)

    return make


async def register(client: httpx.AsyncClient, email: str) -> None:
    created = await client.post("/auth/register", json={"email": email, "password": OLD})
    assert created.status_code == 201, created.text


async def login(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/auth/jwt/login_custom", json={"email": email, "password": password})
    return response.status_code


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code
    assert response.json()["detail"]


async def test_reset_with_the_mailed_token_then_the_token_is_used(mail_client: Any, smtp: SMTPStandIn) -> None:
    async with await mail_client() as client:
        await register(client, "reset@example.com")
        assert await login(client, "reset@example.com", OLD) == 200
        signed_in = httpx.Cookies(client.cookies)
        client.cookies.clear()
        asked = await client.post("/auth/forgot-password", json={"email": "reset@example.com"})
        assert asked.status_code == 202, asked.text
        (message,) = smtp.wait_for("reset@example.com")
        assert message["Subject"] == "Сброс пароля Leadinc"
        token = token_in(message)

        done = await client.post("/auth/reset-password", json={"token": token, "password": NEW})
        assert done.status_code == 200, done.text
        client.cookies = signed_in  # the session from before the reset is logged out
        assert (await client.get("/auth/users/me")).status_code == 401
        client.cookies.clear()
        assert await login(client, "reset@example.com", NEW) == 200
        assert await login(client, "reset@example.com", OLD) == 401

        again = await client.post("/auth/reset-password", json={"token": token, "password": "third password 789"})
        assert_error(again, 400, "RESET_TOKEN_INVALID")
        assert await login(client, "reset@example.com", NEW) == 200


async def test_an_expired_token_is_refused_with_its_own_code(mail_client: Any, smtp: SMTPStandIn) -> None:
    async with await mail_client(RESET_TOKEN_LIFETIME_SECONDS=1) as client:
        await register(client, "late@example.com")
        assert (await client.post("/auth/forgot-password", json={"email": "late@example.com"})).status_code == 202
        token = token_in(smtp.wait_for("late@example.com")[0])
        await asyncio.sleep(2.1)  # the token's exp is one second after it was issued
        expired = await client.post("/auth/reset-password", json={"token": token, "password": NEW})
        assert_error(expired, 400, "RESET_TOKEN_EXPIRED")
        assert await login(client, "late@example.com", OLD) == 200


async def test_forged_and_wrong_purpose_tokens_and_bad_passwords(
    mail_client: Any, smtp: SMTPStandIn, settings: Settings
) -> None:
    async with await mail_client() as client:
        await register(client, "forge@example.com")
        garbage = await client.post("/auth/reset-password", json={"token": "not-a-token", "password": NEW})
        assert_error(garbage, 400, "RESET_TOKEN_INVALID")
        # A verification token is signed with the verification key: it cannot reset a password.
        assert (await client.post("/auth/request-verify-token", json={"email": "forge@example.com"})).status_code == 202
        verify_token = token_in(smtp.wait_for("forge@example.com")[0])
        crossed = await client.post("/auth/reset-password", json={"token": verify_token, "password": NEW})
        assert_error(crossed, 400, "RESET_TOKEN_INVALID")
        # Even an expired token signed with another key is "invalid", not "expired".
        foreign = generate_jwt(
            {"sub": "x", "aud": "fastapi-users:reset"}, derive_secret(settings, Purpose.VERIFY), lifetime_seconds=-10
        )
        assert_error(
            await client.post("/auth/reset-password", json={"token": foreign, "password": NEW}),
            400,
            "RESET_TOKEN_INVALID",
        )

        assert (await client.post("/auth/forgot-password", json={"email": "forge@example.com"})).status_code == 202
        reset_token = token_in(smtp.wait_for("forge@example.com", count=2)[1])
        short = await client.post("/auth/reset-password", json={"token": reset_token, "password": "short"})
        assert_error(short, 422, "INVALID_PASSWORD")
        missing = await client.post("/auth/reset-password", json={"token": reset_token})
        assert_error(missing, 422, "VALIDATION_ERROR")
        assert await login(client, "forge@example.com", OLD) == 200


async def test_unknown_address_gets_the_same_answer_and_no_mail(mail_client: Any, smtp: SMTPStandIn) -> None:
    async with await mail_client() as client:
        for path in ("/auth/forgot-password", "/auth/request-verify-token"):
            response = await client.post(path, json={"email": "nobody@example.com"})
            assert response.status_code == 202 and response.json() is None
        await asyncio.sleep(0.5)
        assert smtp.messages_to("nobody@example.com") == []


async def test_verify_email_with_the_mailed_token(mail_client: Any, smtp: SMTPStandIn) -> None:
    async with await mail_client() as client:
        await register(client, "verify@example.com")
        assert (
            await client.post("/auth/request-verify-token", json={"email": "verify@example.com"})
        ).status_code == 202
        (message,) = smtp.wait_for("verify@example.com")
        assert message["Subject"] == "Подтверждение e-mail Leadinc"
        token = token_in(message)
        verified = await client.post("/auth/verify", json={"token": token})
        assert verified.status_code == 200, verified.text
        assert verified.json()["is_verified"] is True and verified.json()["email"] == "verify@example.com"
        assert_error(await client.post("/auth/verify", json={"token": token}), 409, "ALREADY_VERIFIED")
        assert_error(await client.post("/auth/verify", json={"token": "x.y.z"}), 400, "VERIFY_TOKEN_INVALID")
        # Verified now: asking again sends nothing.
        assert (
            await client.post("/auth/request-verify-token", json={"email": "verify@example.com"})
        ).status_code == 202
        await asyncio.sleep(0.5)
        assert len(smtp.messages_to("verify@example.com")) == 1


async def test_expired_verification_token(mail_client: Any, smtp: SMTPStandIn) -> None:
    async with await mail_client(VERIFY_TOKEN_LIFETIME_SECONDS=1) as client:
        await register(client, "slow@example.com")
        await client.post("/auth/request-verify-token", json={"email": "slow@example.com"})
        token = token_in(smtp.wait_for("slow@example.com")[0])
        await asyncio.sleep(2.1)
        assert_error(await client.post("/auth/verify", json={"token": token}), 400, "VERIFY_TOKEN_EXPIRED")


async def test_concurrent_requests_send_at_most_the_account_limit(mail_client: Any, smtp: SMTPStandIn) -> None:
    async with await mail_client(RATE_MAIL_LINK_ACCOUNT="3/hour") as client:
        await register(client, "many@example.com")
        answers = await asyncio.gather(
            *(client.post("/auth/forgot-password", json={"email": "many@example.com"}) for _ in range(6))
        )
        assert [a.status_code for a in answers] == [202] * 6  # the same answer: nothing tells the limit apart
        await asyncio.sleep(0.5)
        assert len(smtp.messages_to("many@example.com")) == 3


async def test_per_ip_limit_answers_429_in_the_error_shape(mail_client: Any) -> None:
    async with await mail_client(RATE_MAIL_LINK_IP="2/hour") as client:
        codes = [(await client.post("/auth/forgot-password", json={"email": "ip@example.com"})) for _ in range(3)]
        assert [c.status_code for c in codes[:2]] == [202, 202]
        assert_error(codes[2], 429, "MAIL_LINK_RATE_LIMITED")
        assert int(codes[2].headers["Retry-After"]) >= 1


async def test_smtp_down_is_a_503_not_a_500(mail_client: Any) -> None:
    from faults.support import free_port

    async with await mail_client() as client:
        await register(client, "down@example.com")
        async with await mail_client(SMTP_PORT=free_port()) as broken:
            response = await broken.post("/auth/forgot-password", json={"email": "down@example.com"})
            assert_error(response, 503, "MAIL_DELIVERY_FAILED")
