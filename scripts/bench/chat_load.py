"""Chat throughput: the real app under closed-loop load, beside a bare baseline endpoint.

``python -m scripts.bench.chat_load [--clients 32] [--seconds 30]``

* product: ``uvicorn --factory backend.main:app_factory`` (one process) on a throwaway PostgreSQL
  database (127.0.0.1:5432), Redis 127.0.0.1:6379 db 9, the offline model and the demo corpora
  index; every client has its own ``sessionid`` cookie and sends a FAQ / OFFTOPIC / ANALYTICS mix
  to ``POST /ai/chat``. The flood and daily limits are raised through the settings environment
  (``RAISED_LIMITS`` in ``_common.py``) so no 429 is answered; the limiter still runs.
* baseline: a tiny FastAPI app defined here (not part of the product) with the project's DB
  engine and models: per turn one Redis GET (the session) and the same two inserts (the user's
  message, then the reply, each in its own transaction, as ``ChatService`` does). When the
  environment configures an OpenAI-compatible model (``OPENAI_API_KEY``), the baseline also makes
  the product's model call between the inserts: the same client class (``OpenAIChatModel``, one per
  process), the same system prompt and the same endpoint, so a model phase's ratio isolates our
  overhead rather than the model's delay.

Both run in the same invocation, one after the other, with the same clients and the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

import backend.models  # noqa: F401 - every table, so the foreign keys resolve
from backend.assistant.providers.openai_compat import OpenAIChatModel
from backend.auth import repository as session_repository
from backend.chat import repository
from backend.core.config import ROOT_DIR, get_settings
from backend.core.database import async_session_factory, create_async_db_engine
from backend.core.redis import create_async_redis
from scripts.bench._common import (
    BENCH_VAR_DIR,
    MESSAGES,
    RAISED_LIMITS,
    LoadResult,
    Server,
    ThrowawayDatabase,
    app_env,
    closed_loop,
    flush_redis,
    machine,
    prepare_index,
)

BASELINE_REPLY = {
    "scenario": "FAQ",
    "action": "answer",
    "reply": "Тарифы начинаются от 9 900 ₽ в месяц; первые 7 дней бесплатно.",
    "fields": {},
    "stage": None,
    "sources": [{"article_id": "111", "title": "Тарифы и цены"}],
    "dashboard": None,
    "audio": None,
}


SYSTEM_PROMPT = (ROOT_DIR / "scenario" / "system.md").read_text(encoding="utf-8")


def model_messages(text: str) -> list[dict[str, Any]]:
    """What the baseline sends a configured model: the product's system prompt and the message."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]


def baseline_app() -> FastAPI:
    """``uvicorn --factory scripts.bench.chat_load:baseline_app``: the floor a chat turn cannot beat."""
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_db_engine(settings)
        app.state.db_factory = async_session_factory(engine)
        app.state.redis = create_async_redis(settings.REDIS_URL)
        app.state.model = None
        if settings.OPENAI_API_KEY:
            app.state.model = OpenAIChatModel(
                api_key=settings.OPENAI_API_KEY,
                base_url=settings.OPENAI_BASE_URL or None,
                model=settings.OPENAI_MODEL,
                timeout=settings.OPENAI_TIMEOUT_SECONDS,
                max_retries=settings.OPENAI_MAX_RETRIES,
            )
        try:
            yield
        finally:
            if app.state.model is not None:
                await app.state.model.aclose()
            await app.state.redis.aclose()
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/start")
    async def start(response: Response) -> dict[str, str]:
        chat_session_id = uuid.uuid4()
        async with app.state.db_factory() as db, db.begin():
            await session_repository.store_session(db, chat_session_id, None)
        sid = secrets.token_urlsafe(32)
        payload = {"chat_session_id": str(chat_session_id), "user_id": None, "data": {}}
        await app.state.redis.set(f"bench:session:{sid}", json.dumps(payload), ex=3600)
        response.set_cookie("sessionid", sid, httponly=True)
        return {"sid": sid}

    @app.post("/ai/chat")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        raw = await app.state.redis.get(f"bench:session:{request.cookies.get('sessionid')}")  # the one Redis call
        if not raw:
            return JSONResponse({"error_code": "NO_SESSION", "detail": "call /start"}, status_code=401)
        session_id = uuid.UUID(json.loads(raw)["chat_session_id"])
        async with app.state.db_factory() as db, db.begin():
            await repository.add_message(db, session_id=session_id, user_id=None, role="user", text=body["message"])
        if app.state.model is not None:
            await app.state.model.complete(model_messages(body["message"]), [])
        async with app.state.db_factory() as db, db.begin():
            await repository.add_message(
                db,
                session_id=session_id,
                user_id=None,
                role="assistant",
                text=str(BASELINE_REPLY["reply"]),
                scenario="FAQ",
                meta={"provider": "baseline", "latency_ms": 0.0},
            )
        return JSONResponse(BASELINE_REPLY)

    return app


async def _chat_turn(client: httpx.AsyncClient, index: int, n: int) -> httpx.Response:
    message = MESSAGES[(index * 5 + n) % len(MESSAGES)]
    return await client.post("/ai/chat", json={"message": message})


async def _product_start(client: httpx.AsyncClient) -> None:
    (await client.get("/auth/session")).raise_for_status()


async def _baseline_start(client: httpx.AsyncClient) -> None:
    (await client.post("/start")).raise_for_status()


async def _warm_up(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for message in MESSAGES:
            await client.post("/ai/chat", json={"message": message})


def run(clients: int, seconds: float) -> tuple[LoadResult, LoadResult]:
    print(f"preparing: demo index under {BENCH_VAR_DIR}, throwaway database, Redis db 9 flushed", flush=True)
    prepare_index()
    flush_redis()
    logs = BENCH_VAR_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ThrowawayDatabase() as database:
        env = app_env(database.url)
        results = []
        for name, target, start in (
            ("baseline (1 Redis GET + 2 inserts)", "scripts.bench.chat_load:baseline_app", _baseline_start),
            ("product POST /ai/chat (offline model)", "backend.main:app_factory", _product_start),
        ):
            server = Server(target, env, logs / f"{target.split(':')[-1]}.log")
            try:
                server.wait_ready()
                if start is _product_start:
                    asyncio.run(_warm_up(server.base_url))
                print(f"running {name}: {clients} clients for {seconds:.0f} s", flush=True)
                results.append(asyncio.run(closed_loop(name, server.base_url, clients, seconds, _chat_turn, start)))
            finally:
                server.stop()
    return results[0], results[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.chat_load", description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be within 1..600 (every load loop is bounded)")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    print(f"raised limits for the run: {', '.join(f'{k}={v}' for k, v in RAISED_LIMITS.items())}")
    baseline, product = run(args.clients, args.seconds)
    print()
    print(baseline.describe())
    print(product.describe())
    if baseline.turns_per_second:
        print(f"product / baseline throughput: {product.turns_per_second / baseline.turns_per_second:.2f}")
    print(f"after the run: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
