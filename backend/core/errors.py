"""Domain errors carry their HTTP status; one handler turns them into the SPEC error shape.

Services raise these (never ``HTTPException``). ``backend.main`` installs the handlers.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base class: ``{"error_code": code, "detail": detail}`` with ``status_code``."""

    status_code: int = 400
    error_code: str = "BAD_REQUEST"
    default_detail: str = "Некорректный запрос."

    def __init__(
        self,
        detail: str | None = None,
        *,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        if error_code:
            self.error_code = error_code
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "detail": self.detail, **self.extra}


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status_code = 401
    error_code = "NOT_AUTHENTICATED"
    default_detail = "Требуется вход в аккаунт."


class Forbidden(AppError):
    status_code = 403
    error_code = "FORBIDDEN"
    default_detail = "Доступ запрещён."


class NotFound(AppError):
    status_code = 404
    error_code = "NOT_FOUND"
    default_detail = "Не найдено."


class Conflict(AppError):
    status_code = 409
    error_code = "CONFLICT"
    default_detail = "Конфликт с текущим состоянием."


class PayloadTooLarge(AppError):
    status_code = 413
    error_code = "PAYLOAD_TOO_LARGE"
    default_detail = "Слишком большой запрос."


class UnsupportedMediaType(AppError):
    status_code = 415
    error_code = "UNSUPPORTED_MEDIA_TYPE"
    default_detail = "Неподдерживаемый формат."


class Unprocessable(AppError):
    status_code = 422
    error_code = "VALIDATION_ERROR"
    default_detail = "Данные не прошли проверку."


class TooManyRequests(AppError):
    status_code = 429
    error_code = "RATE_LIMITED"
    default_detail = "Слишком много запросов, попробуйте позже."

    def __init__(self, detail: str | None = None, *, retry_after: int, error_code: str | None = None) -> None:
        super().__init__(
            detail,
            error_code=error_code,
            headers={"Retry-After": str(max(1, retry_after))},
            extra={"retry_after": max(1, retry_after)},
        )


class ServiceUnavailable(AppError):
    status_code = 503
    error_code = "SERVICE_UNAVAILABLE"
    default_detail = "Сервис временно недоступен."
