"""The two cookies of SPEC section 3, with one set of flags."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Response

from backend.core.config import Settings

R = TypeVar("R", bound=Response)


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


def carry_cookies(injected: Response, returned: R) -> R:
    """Copy the cookies set on the route's injected ``Response`` (a new session, a login) onto a
    response the route returns itself: FastAPI merges the injected headers only into responses it
    builds, not into a returned ``FileResponse`` or event stream."""
    returned.headers.raw.extend(h for h in injected.headers.raw if h[0] == b"set-cookie")
    return returned
