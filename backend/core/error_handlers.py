"""One error shape for everything: ``{"error_code": "UPPER_SNAKE", "detail": "..."}``.

Exceptions no domain rule turned into an ``AppError`` are classified honestly (:func:`classify`):
a dependency that cannot be reached or timed out (PostgreSQL, Redis, Chroma over HTTP, a full or
read-only disk) is 503 with ``Retry-After``; a uniqueness violation is 409 ``ALREADY_EXISTS``; a value
the database refuses is 422; everything else is a 500 written to the error journal with the request id
(the response carries it as ``X-Request-ID``).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg.exceptions
import httpx
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.core.errors import AppError
from backend.core.logging import journal_error

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


def _app_error_handler(observe: Callable[[AppError], None] | None) -> Callable[[Request, Exception], Any]:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        if observe is not None:
            observe(exc)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers or None)

    return handle


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


# An outage: the dependency could not be reached, dropped the connection or did not answer in time.
_OUTAGE: tuple[type[BaseException], ...] = (
    # asyncpg errors raised while connecting are not wrapped by SQLAlchemy: "the database system is
    # shutting down / starting up" (57P01-57P03), a statement timeout (57014), lost connections.
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    PoolTimeout,  # no free database connection within DB_POOL_TIMEOUT_SECONDS
    httpx.TransportError,  # a dependency over HTTP (Chroma's HTTP client) unreachable or too slow
    ConnectionError,
    TimeoutError,
)
# A disk that cannot take writes is an outage too; a missing file or a bad path is our bug (500).
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
_UNIQUE_VIOLATION = "23505"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error SQLAlchemy wraps, and their causes."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = current.orig if isinstance(current, DBAPIError) else None
        pending += [orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__]


def _outage_part(exc: BaseException) -> str | None:
    """Which dependency is down ("database", "redis", "vector_store", "disk"), or None for no outage."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "database"
    for cause in _causes(exc):
        if isinstance(cause, redis.exceptions.RedisError):
            if isinstance(cause, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
                return "redis"
            continue
        if isinstance(cause, httpx.TransportError):
            return "vector_store"
        if isinstance(cause, OSError) and cause.errno in _DISK_ERRNOS:
            return "disk"
        if isinstance(cause, _OUTAGE):
            return "database"
    return None


def _is_unique_violation(exc: BaseException) -> bool:
    if not isinstance(exc, IntegrityError):
        return False
    for cause in _causes(exc):
        if isinstance(cause, asyncpg.exceptions.UniqueViolationError):
            return True
        if _UNIQUE_VIOLATION in (getattr(cause, "pgcode", None), getattr(cause, "sqlstate", None)):
            return True
        if "UNIQUE constraint failed" in str(cause):  # SQLite
            return True
    return False


def classify(exc: BaseException, path: str, method: str = "") -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for an exception no domain rule handled (journaled). Used by the
    handlers below and where no handler can run (an error event inside an SSE stream)."""
    if isinstance(exc, AppError):
        return exc.status_code, exc.body(), exc.headers
    if _is_unique_violation(exc):  # e.g. two registrations of one e-mail at once: a conflict, not an outage
        journal_error("unique_violation", exc, path=path, method=method)
        body = {"error_code": "ALREADY_EXISTS", "detail": "Такая запись уже существует. Обновите страницу и повторите."}
        return 409, body, {}
    if isinstance(exc, DataError):  # the database refused a value (SQLSTATE class 22): bad input, not an outage
        journal_error("data_rejected", exc, path=path, method=method)
        body = {
            "error_code": "INVALID_INPUT",
            "detail": "Данные запроса не могут быть сохранены: недопустимое значение.",
        }
        return 422, body, {}
    part = _outage_part(exc)
    if part is not None:
        journal_error("dependency_unavailable", exc, part=part, path=path)
        detail = f"Временно недоступно хранилище ({part}). Попробуйте через минуту."
        return 503, {"error_code": "SERVICE_UNAVAILABLE", "detail": detail}, {"Retry-After": "5"}
    journal_error("unhandled_error", exc, path=path, method=method)  # with the request id (X-Request-ID)
    logger.error("unhandled error", exc_info=exc)
    return 500, {"error_code": "INTERNAL_ERROR", "detail": "Внутренняя ошибка сервера. Мы уже знаем о ней."}, {}


async def _classified(request: Request, exc: Exception) -> JSONResponse:
    status, body, headers = classify(exc, request.url.path, request.method)
    return JSONResponse(body, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI, observe: Callable[[AppError], None] | None = None) -> None:
    """``observe`` sees every domain error answered (the app counts rate-limit rejections with it)."""
    app.add_exception_handler(AppError, _app_error_handler(observe))
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Named types are answered inside the middleware stack (request id, metrics, cookies see them);
    # ``Exception`` is the last resort of Starlette's outermost ServerErrorMiddleware.
    exc_types: tuple[type[Exception], ...] = (
        DBAPIError,
        PoolTimeout,
        redis.exceptions.RedisError,
        asyncpg.exceptions.PostgresError,
        asyncpg.exceptions.InterfaceError,
        httpx.TransportError,
        OSError,
        Exception,
    )
    for exc_type in exc_types:
        app.add_exception_handler(exc_type, _classified)
