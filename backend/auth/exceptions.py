from __future__ import annotations

from backend.core.errors import BadRequest, Conflict, Unauthorized


class InvalidCredentials(Unauthorized):
    error_code = "INVALID_CREDENTIALS"
    default_detail = "Неверный e-mail или пароль."


class UserAlreadyExists(Conflict):
    error_code = "USER_ALREADY_EXISTS"
    default_detail = "Пользователь с таким e-mail уже зарегистрирован."


class ResetTokenExpired(BadRequest):
    error_code = "RESET_TOKEN_EXPIRED"
    default_detail = "Срок действия токена сброса пароля истёк. Запросите сброс ещё раз."


class ResetTokenInvalid(BadRequest):
    error_code = "RESET_TOKEN_INVALID"
    default_detail = "Токен сброса пароля недействителен или уже использован. Запросите сброс ещё раз."


class VerifyTokenExpired(BadRequest):
    error_code = "VERIFY_TOKEN_EXPIRED"
    default_detail = "Срок действия токена подтверждения истёк. Запросите новый."


class VerifyTokenInvalid(BadRequest):
    error_code = "VERIFY_TOKEN_INVALID"
    default_detail = "Токен подтверждения недействителен."


class AlreadyVerified(Conflict):
    error_code = "ALREADY_VERIFIED"
    default_detail = "Этот e-mail уже подтверждён."
