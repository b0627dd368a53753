from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, EmailStr, Field, model_validator


class RegisterRequest(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)


class LoginRequest(BaseModel):
    """E-mail with either a password or a one-time code."""

    email: EmailStr
    password: str | None = Field(default=None, min_length=1, max_length=128)
    code: str | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _one_secret(self) -> LoginRequest:
        if (self.password is None) == (self.code is None):
            raise ValueError("give exactly one of password or code")
        return self


class UserProfile(BaseModel):
    is_authenticated: bool = True
    id: uuid.UUID
    email: str
    login: str | None
    city: str | None = None
    niche: str | None = None
    trial_ends_at: datetime | None
    subscription_ends_at: datetime | None
    has_access: bool


class NotAuthenticated(BaseModel):
    is_authenticated: bool = False
    error_code: str = "NOT_AUTHENTICATED"
    detail: str


class LogoutResponse(BaseModel):
    ok: bool = True


class RequestCodeRequest(BaseModel):
    email: EmailStr


class RequestCodeResponse(BaseModel):
    """The same answer whether or not the account exists."""

    ok: bool = True
    detail: str


def _blank_is_none(value: Any) -> Any:
    """Query values arrive as strings; a blank one means "not given"."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _printable(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


def _page(value: str) -> str:
    """A path with its query (``/?utm_source=…``), or the absolute URL of a page embedding the chat."""
    return value if value.startswith("/") and not value.startswith("//") else _url(value)


_Blank, _Printable = BeforeValidator(_blank_is_none), AfterValidator(_printable)
Tag = Annotated[Annotated[str, Field(max_length=200), _Printable] | None, _Blank]
PageURL = Annotated[Annotated[str, Field(max_length=1000), _Printable, AfterValidator(_page)] | None, _Blank]
URL = Annotated[Annotated[str, Field(max_length=1000), _Printable, AfterValidator(_url)] | None, _Blank]


class Visit(BaseModel):
    """Where a visitor came from, as the chat page passes it to ``GET /auth/session``: recorded once per
    session, by the request that creates it (first touch), and stored with the session's row."""

    landing_page: PageURL = Field(
        default=None, description="the page the chat was opened on: a path with its query, or an http(s) URL"
    )
    referrer: URL = Field(default=None, description="the page before it (document.referrer)")
    utm_source: Tag = None
    utm_medium: Tag = None
    utm_campaign: Tag = None
    utm_term: Tag = None
    utm_content: Tag = None

    @classmethod
    def stored(cls, row: Any) -> Visit:
        """The visit of a stored row (an attribute per field), validated when it came in."""
        return cls.model_construct(**{name: getattr(row, name) for name in VISIT_FIELDS})

    def given(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


VISIT_FIELDS = tuple(Visit.model_fields)
