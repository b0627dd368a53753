"""One error shape for everything: ``{"error_code": "UPPER_SNAKE", "detail": "..."}``."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg.exceptions
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.core.errors import AppError
from backend.core.logging import journal_error
from backend.metrics.instruments import record_limit

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ("BAD_REQUEST", "Некорректный запрос."),
    401: ("NOT_AUTHENTICATED", "Требуется вход в аккаунт."),
    403: ("FORBIDDEN", "Доступ запрещён."),
    404: ("NOT_FOUND", "Такого адреса нет."),
    405: ("METHOD_NOT_ALLOWED", "Метод не поддерживается для этого адреса."),
    413: ("PAYLOAD_TOO_LARGE", "Слишком большой запрос."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Неподдерживаемый формат."),
}


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error_code": code, "detail": detail, **extra}, status_code=status, headers=headers)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code == 429:
        record_limit(exc.error_code)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers or None)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, default = _HTTP_CODES.get(exc.status_code, (f"HTTP_{exc.status_code}", "Ошибка запроса."))
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code in (413,) else default
    return error_response(exc.status_code, code, detail, headers=getattr(exc, "headers", None))


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    # Never echo the input back: it may hold a password or a code.
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": error.get("msg", ""),
        "type": error.get("type", ""),
    }


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_describe(error) for error in exc.errors()]
    if any(error["type"] == "json_invalid" for error in errors):
        return error_response(400, "MALFORMED_JSON", "Тело запроса не является корректным JSON.")
    first = errors[0] if errors else {"loc": [], "msg": ""}
    where = ".".join(part for part in first["loc"] if part != "body") or "запрос"
    return error_response(422, "VALIDATION_ERROR", f"{where}: {first['msg']}", errors=errors)


_DEPENDENCY_DOWN: tuple[type[Exception], ...] = (
    # asyncpg errors raised while connecting are not wrapped by SQLAlchemy:
    # "the database system is shutting down / starting up", lost connections.
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OperationalError,
    PoolTimeout,
    DBAPIError,
    ConnectionError,
    OSError,
)


def classify(exc: BaseException, path: str, method: str = "") -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for an exception no domain rule handled (journaled). Used by the
    handlers below and where no handler can run (an error event inside an SSE stream)."""
    if isinstance(exc, AppError):
        return exc.status_code, exc.body(), exc.headers
    if isinstance(exc, DataError):  # the database refused a value (SQLSTATE class 22): bad input, not an outage
        journal_error("data_rejected", exc, path=path, method=method)
        body = {
            "error_code": "INVALID_INPUT",
            "detail": "Данные запроса не могут быть сохранены: недопустимое значение.",
        }
        return 422, body, {}
    if isinstance(exc, _DEPENDENCY_DOWN):
        part = "redis" if isinstance(exc, redis.exceptions.RedisError) else "database"
        journal_error("dependency_unavailable", exc, part=part, path=path)
        detail = f"Временно недоступно хранилище ({part}). Попробуйте через минуту."
        return 503, {"error_code": "SERVICE_UNAVAILABLE", "detail": detail}, {"Retry-After": "5"}
    journal_error("unhandled_error", exc, path=path, method=method)
    logger.error("unhandled error", exc_info=exc)
    return 500, {"error_code": "INTERNAL_ERROR", "detail": "Внутренняя ошибка сервера. Мы уже знаем о ней."}, {}


async def _classified(request: Request, exc: Exception) -> JSONResponse:
    status, body, headers = classify(exc, request.url.path, request.method)
    return JSONResponse(body, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    exc_types: tuple[type[Exception], ...] = (DataError, *_DEPENDENCY_DOWN, Exception)
    for exc_type in exc_types:
        app.add_exception_handler(exc_type, _classified)
