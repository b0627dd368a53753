"""Account rules: register, log in by password or one-time code, build the profile."""

from __future__ import annotations

from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import exceptions as fu_exceptions
from fastapi_users import schemas as fu_schemas

from backend.auth.exceptions import InvalidCredentials, UserAlreadyExists
from backend.auth.models import User
from backend.auth.schemas import LoginRequest, UserProfile
from backend.auth.users import UserManager
from backend.codes.service import CodeService
from backend.core.errors import Unprocessable


async def register(manager: UserManager, email: str, password: str) -> User:
    try:
        return await manager.create(fu_schemas.BaseUserCreate(email=email, password=password), safe=True)
    except fu_exceptions.UserAlreadyExists as exc:
        raise UserAlreadyExists from exc
    except fu_exceptions.InvalidPasswordException as exc:
        raise Unprocessable(str(exc.reason), error_code="INVALID_PASSWORD") from exc


async def authenticate(manager: UserManager, codes: CodeService, body: LoginRequest) -> User:
    if body.password is not None:
        form = OAuth2PasswordRequestForm(username=body.email, password=body.password)
        user = await manager.authenticate(form)
    else:
        await codes.verify(body.email, body.code or "")
        try:
            user = await manager.get_by_email(body.email)
        except fu_exceptions.UserNotExists as exc:
            raise InvalidCredentials("Аккаунт с таким e-mail не найден.") from exc
    if user is None or not user.is_active:
        raise InvalidCredentials
    return user


def profile(user: User) -> UserProfile:
    return UserProfile(
        id=user.id,
        email=user.email,
        login=user.login or user.email,
        city=user.city,
        niche=user.niche,
        trial_ends_at=user.trial_ends_at,
        subscription_ends_at=user.subscription_ends_at,
        has_access=user.has_active_access(),
    )
