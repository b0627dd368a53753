"""The one-time-code service as its own small ASGI app (the seed ran it separately).

Run: ``uvicorn --factory backend.codes.app:app_factory --port 8002``. It reads the same settings
and Redis as the main app, so both can serve codes side by side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend.codes.router import router
from backend.core.config import Settings, get_settings
from backend.core.error_handlers import install_error_handlers
from backend.core.logging import configure_logging
from backend.core.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from backend.core.ratelimit import RateLimiter
from backend.core.redis import create_async_redis, resolve_redis_url


def create_code_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_async_redis(resolve_redis_url(settings))
        app.state.redis = redis
        app.state.limiter = RateLimiter(redis)
        try:
            yield
        finally:
            await redis.aclose()

    app = FastAPI(title="Leadinc one-time codes", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.MAX_BODY_BYTES)
    app.add_middleware(RequestIdMiddleware)
    return app


def app_factory() -> FastAPI:
    return create_code_app()
