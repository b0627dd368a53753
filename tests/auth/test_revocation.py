"""Logout revokes: the JWT of a logged-out session is refused (401) until it would have expired, and
"log out everywhere" kills every token of the user. Tokens are signed with the JWT key derived from
SECRET, not with SECRET itself."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import jwt
import redis.asyncio as aioredis

from backend.core.config import Settings
from backend.core.keys import Purpose, derive_secret

PASSWORD = "correct horse battery"


async def login(http: httpx.AsyncClient, email: str = "dora@example.com") -> str:
    response = await http.post("/auth/jwt/login_custom", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.cookies["fastapiusersauth"])


async def me_with(http: httpx.AsyncClient, token: str) -> int:
    http.cookies.clear()
    http.cookies.set("fastapiusersauth", token)
    return (await http.get("/auth/users/me")).status_code


async def test_logged_out_token_gets_401(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.post("/auth/register", json={"email": "dora@example.com", "password": PASSWORD})
    token = await login(client)
    other = await login(client)  # a second device
    assert await me_with(client, token) == 200
    client.cookies.set("fastapiusersauth", token)
    assert (await client.post("/auth/jwt/logout")).status_code == 200
    assert await me_with(client, token) == 401  # the replayed cookie is dead
    assert await me_with(client, other) == 200  # the other device stays logged in
    claims = jwt.decode(token, options={"verify_signature": False})
    redis = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        ttl = await redis.ttl(f"leadinc:jwt:denied:{claims['jti']}")
    finally:
        await redis.aclose()
    assert 0 < ttl <= claims["exp"] - time.time() + 2  # kept until the token would expire, no longer


async def test_logout_everywhere(client: httpx.AsyncClient) -> None:
    await client.post("/auth/register", json={"email": "dora@example.com", "password": PASSWORD})
    first, second = await login(client), await login(client)
    client.cookies.clear()
    client.cookies.set("fastapiusersauth", second)
    assert (await client.post("/auth/jwt/logout-all")).status_code == 200
    assert await me_with(client, first) == 401
    assert await me_with(client, second) == 401
    await asyncio.sleep(0.01)
    fresh = await login(client)
    assert await me_with(client, fresh) == 200
    client.cookies.clear()
    assert (await client.post("/auth/jwt/logout-all")).status_code == 401


async def test_tokens_use_the_derived_jwt_key(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.post("/auth/register", json={"email": "dora@example.com", "password": PASSWORD})
    token = await login(client)
    audience = ["fastapi-users:auth"]
    claims = jwt.decode(token, derive_secret(settings, Purpose.JWT), audience=audience, algorithms=["HS256"])
    assert claims["jti"] and claims["iat"]
    forged = jwt.encode(claims | {"jti": uuid.uuid4().hex}, settings.SECRET, algorithm="HS256")  # the raw SECRET
    assert await me_with(client, forged) == 401
    no_jti = {k: v for k, v in claims.items() if k != "jti"}
    assert await me_with(client, jwt.encode(no_jti, derive_secret(settings, Purpose.JWT), algorithm="HS256")) == 401
