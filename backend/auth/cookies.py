"""The two cookies of SPEC section 3, with one set of flags."""

from __future__ import annotations

from fastapi import Response

from backend.core.config import Settings


def _set(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite=settings.COOKIE_SAMESITE,
    )


def set_session_cookie(response: Response, settings: Settings, sid: str) -> None:
    _set(response, settings, settings.SESSION_COOKIE_NAME, sid, settings.SESSION_TTL_SECONDS)


def set_auth_cookie(response: Response, settings: Settings, token: str) -> None:
    _set(response, settings, settings.AUTH_COOKIE_NAME, token, settings.JWT_LIFETIME_SECONDS)


def clear_cookies(response: Response, settings: Settings) -> None:
    for name in {settings.SESSION_COOKIE_NAME, settings.AUTH_COOKIE_NAME, "sessionid"}:
        _set(response, settings, name, "", 0)
