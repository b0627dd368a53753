"""What the account e-mails say (Russian, plain text) and who gets them. Sending is ``mailer.py``'s.

Reset and verification messages carry the signed token on a line of its own (the client posts it to
``/auth/reset-password`` or ``/auth/verify``). Tokens are never logged.
"""

from __future__ import annotations

from datetime import datetime

from backend.auth.mailer import Mailer
from backend.core.config import Settings

RESET_SUBJECT = "Сброс пароля Leadinc"
RESET_BODY = (
    "Вы запросили сброс пароля для аккаунта {email}.\n\n"
    "Токен для сброса пароля (действует {minutes} мин.):\n\n{token}\n\n"
    "Передайте его вместе с новым паролем в POST /auth/reset-password. "
    "Если вы не запрашивали сброс, просто удалите письмо: пароль останется прежним."
)
VERIFY_SUBJECT = "Подтверждение e-mail Leadinc"
VERIFY_BODY = (
    "Подтвердите адрес {email} для аккаунта Leadinc.\n\n"
    "Токен подтверждения (действует {minutes} мин.):\n\n{token}\n\n"
    "Передайте его в POST /auth/verify. Если вы не регистрировались, просто удалите письмо."
)
NOTICE_SUBJECT = "Новая регистрация в Leadinc: {contact}"
NOTICE_BODY = "Новая регистрация.\n\nКонтакт: {contact}\nГород: {city}\nНиша: {niche}\nВремя (UTC): {at}\n"
NOT_GIVEN = "не указан"


def _minutes(seconds: int) -> int:
    return max(1, seconds // 60)


async def send_reset_token(settings: Settings, email: str, token: str) -> None:
    body = RESET_BODY.format(email=email, token=token, minutes=_minutes(settings.RESET_TOKEN_LIFETIME_SECONDS))
    await Mailer(settings).send_message(email, RESET_SUBJECT, body, kind="reset")


async def send_verify_token(settings: Settings, email: str, token: str) -> None:
    body = VERIFY_BODY.format(email=email, token=token, minutes=_minutes(settings.VERIFY_TOKEN_LIFETIME_SECONDS))
    await Mailer(settings).send_message(email, VERIFY_SUBJECT, body, kind="verify")


async def send_registration_notice(
    settings: Settings, *, contact: str, city: str | None, niche: str | None, at: datetime
) -> None:
    """The operator's short notice of one new account, to ``ADMIN_EMAIL``."""
    body = NOTICE_BODY.format(
        contact=contact,
        city=city or NOT_GIVEN,
        niche=niche or NOT_GIVEN,
        at=at.strftime("%Y-%m-%d %H:%M"),
    )
    await Mailer(settings).send_message(
        settings.ADMIN_EMAIL, NOTICE_SUBJECT.format(contact=contact), body, kind="notice"
    )
