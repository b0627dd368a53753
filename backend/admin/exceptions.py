from __future__ import annotations

from backend.core.errors import Forbidden, NotFound


class UserNotFound(NotFound):
    error_code = "USER_NOT_FOUND"
    default_detail = "Пользователь с таким e-mail не найден."


class AdminRequired(Forbidden):
    error_code = "ADMIN_REQUIRED"
    default_detail = "Нужны права администратора."
