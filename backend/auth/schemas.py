from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, EmailStr, Field, model_validator


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
