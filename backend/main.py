"""App factory: ``create_app()`` plus a lifespan that builds the shared clients once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from backend.api import api_router
from backend.core.config import ROOT_DIR, Settings, get_settings
from backend.core.csrf import JsonCSRFMiddleware
from backend.core.error_handlers import install_error_handlers
from backend.core.heap import startup_heap_frozen
from backend.core.inputs import require_body_media_type
from backend.core.keys import Purpose, derive_secret
from backend.core.logging import configure_logging
from backend.core.middleware import BodySizeLimitMiddleware, JsonTrustedHostMiddleware, RequestIdMiddleware
from backend.core.openapi import install_openapi
from backend.core.sentry import init_sentry
from backend.metrics.instruments import observe_app_error
from backend.metrics.middleware import HttpMetricsMiddleware
from backend.runtime import build_runtime
from backend.voice.service import upload_body_limit

FRONTEND_DIR = ROOT_DIR / "frontend_test"
CONSOLE_DIR = ROOT_DIR / "frontend_admin"


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(settings)
        app.state.runtime = runtime
        app.state.settings = settings
        app.state.db_engine = runtime.db_engine
        app.state.db_factory = runtime.db_factory
        app.state.redis = runtime.redis
        app.state.limiter = runtime.limiter
        app.state.health = runtime.health
        app.state.engine = runtime.engine
        try:
            with startup_heap_frozen():
                yield
        finally:
            await runtime.aclose()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    init_sentry(settings, "api")  # before the app exists: the integrations hook into FastAPI/Starlette
    app = FastAPI(
        title="Leadinc Assistant",
        version="0.1.0",
        description="AI sales consultant backend: FAQ, niche analytics, registration funnel, small talk.",
        lifespan=_lifespan(settings),
        dependencies=[Depends(require_body_media_type)],
    )
    app.state.settings = settings
    install_error_handlers(app, observe=observe_app_error)
    app.include_router(api_router)
    install_openapi(app, csrf=settings.CSRF_ENABLED)

    app.mount("/static", StaticFiles(directory=FRONTEND_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(FRONTEND_DIR / "index.html")

    # The operator console: a static page; its data comes from the guarded /admin API.
    app.mount("/admin/assets", StaticFiles(directory=CONSOLE_DIR), name="console-assets")

    @app.get("/admin/", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(CONSOLE_DIR / "index.html")

    # Added last = outermost. Order of a request: request id → body cap → CSRF → CORS → hosts.
    app.add_middleware(JsonTrustedHostMiddleware, allowed_hosts=settings.ALLOWED_HOSTS or ["*"])
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
            secret=derive_secret(settings, Purpose.CSRF),
            sensitive_cookies={settings.SESSION_COOKIE_NAME, settings.AUTH_COOKIE_NAME},
            cookie_name=settings.CSRF_COOKIE_NAME,
            header_name=settings.CSRF_HEADER_NAME,
            cookie_secure=settings.cookie_secure,
            cookie_samesite=settings.COOKIE_SAMESITE,
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.MAX_BODY_BYTES,
        overrides={"/ai/voice_upload": upload_body_limit(settings)},
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(HttpMetricsMiddleware)
    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory backend.main:app_factory``."""
    return create_app()
