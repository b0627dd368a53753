"""App factory: ``create_app()`` plus a lifespan that builds the shared clients once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from backend.api import api_router
from backend.core.config import Settings, get_settings
from backend.core.csrf import JsonCSRFMiddleware
from backend.core.database import async_session_factory, create_async_db_engine
from backend.core.error_handlers import install_error_handlers
from backend.core.logging import configure_logging
from backend.core.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from backend.core.redis import create_async_redis, resolve_redis_url
from backend.health.service import HealthRegistry, database_check, redis_check
from backend.limits.limiter import RateLimiter


def _lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_db_engine(settings)
        redis = create_async_redis(resolve_redis_url(settings))
        health = HealthRegistry()
        health.register("database", database_check(engine))
        health.register("redis", redis_check(redis))
        app.state.settings = settings
        app.state.db_engine = engine
        app.state.db_factory = async_session_factory(engine)
        app.state.redis = redis
        app.state.limiter = RateLimiter(redis)
        app.state.health = health
        try:
            yield
        finally:
            await redis.aclose()
            await engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="Leadinc Assistant",
        version="0.1.0",
        description="AI sales consultant backend: FAQ, niche analytics, registration funnel, small talk.",
        lifespan=_lifespan(settings),
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    # Added last = outermost. Order of a request: request id → body cap → CSRF → CORS → hosts.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.ALLOWED_HOSTS or ["*"])
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_credentials=True,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", settings.CSRF_HEADER_NAME, "x-request-id"],
        )
    if settings.CSRF_ENABLED:
        app.add_middleware(
            JsonCSRFMiddleware,
            secret=settings.SECRET,
            sensitive_cookies={settings.SESSION_COOKIE_NAME, settings.AUTH_COOKIE_NAME},
            cookie_name=settings.CSRF_COOKIE_NAME,
            header_name=settings.CSRF_HEADER_NAME,
            cookie_secure=settings.cookie_secure,
            cookie_samesite=settings.COOKIE_SAMESITE,
        )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.MAX_BODY_BYTES)
    app.add_middleware(RequestIdMiddleware)
    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory backend.main:app_factory``."""
    return create_app()
