from __future__ import annotations

from backend.core.errors import Conflict, Unauthorized


class InvalidCredentials(Unauthorized):
    error_code = "INVALID_CREDENTIALS"
    default_detail = "Неверный e-mail или пароль."


class UserAlreadyExists(Conflict):
    error_code = "USER_ALREADY_EXISTS"
    default_detail = "Пользователь с таким e-mail уже зарегистрирован."
