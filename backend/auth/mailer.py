"""Delivers e-mail: SMTP (aiosmtplib) when configured, otherwise a development outbox.

One-time codes, password-reset and verification tokens and the operator's registration notices all
go through :class:`Mailer`. Codes and tokens are never written to logs; the outbox is a directory of
JSON files for local testing.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from backend.core.config import Settings
from backend.core.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

SUBJECT = "Код подтверждения Leadinc"
BODY = (
    "Ваш код подтверждения: {code}\n\nКод действует {minutes} минут. Если вы его не запрашивали, просто удалите письмо."
)


class MailDeliveryFailed(ServiceUnavailable):
    error_code = "MAIL_DELIVERY_FAILED"
    default_detail = "Не удалось отправить письмо. Попробуйте чуть позже."


class Mailer:
    """Sends one plain-text message: SMTP when ``SMTP_HOST`` is set, else the development outbox."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def channel(self) -> str:
        return "smtp" if self._settings.SMTP_HOST else "outbox"

    async def send_message(self, to: str, subject: str, text: str, *, kind: str, **outbox_extra: Any) -> None:
        """``kind`` names the message in logs (``code``, ``reset``, ``verify``, ``notice``); the
        outbox file also keeps ``outbox_extra`` (e.g. the code) for tests and demos."""
        if self._settings.SMTP_HOST:
            await self._send_smtp(to, subject, text)
        else:
            self._write_outbox(to, subject, text, outbox_extra)
        logger.info("mail delivered", extra={"channel": self.channel, "kind": kind})

    async def _send_smtp(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = f"{self._settings.EMAILS_FROM_NAME} <{self._settings.EMAILS_FROM_EMAIL}>"
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._settings.SMTP_HOST,
                port=self._settings.SMTP_PORT,
                username=self._settings.SMTP_USER or None,
                password=self._settings.SMTP_PASSWORD or None,
                start_tls=self._settings.SMTP_TLS,
                timeout=15,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailDeliveryFailed from exc

    def _write_outbox(self, to: str, subject: str, text: str, extra: dict[str, Any]) -> None:
        outbox = self._settings.dev_outbox_dir
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = outbox / f"{stamp}_{secrets.token_hex(4)}.json"
        payload = {"to": to, "subject": subject, "body": text, **extra, "sent_at": stamp}
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


class CodeMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._mailer = Mailer(settings)

    async def send_code(self, email: str, code: str) -> None:
        minutes = max(1, self._settings.CODE_TTL_SECONDS // 60)
        try:
            await self._mailer.send_message(
                email, SUBJECT, BODY.format(code=code, minutes=minutes), kind="code", code=code
            )
        except MailDeliveryFailed as exc:
            raise ServiceUnavailable("Не удалось отправить письмо с кодом. Попробуйте чуть позже.") from exc


def latest_outbox_code(settings: Settings, email: str) -> str | None:
    """The newest code sent to ``email`` in the development outbox (tests and demos)."""
    outbox = settings.dev_outbox_dir
    if not outbox.is_dir():
        return None
    for path in sorted(outbox.glob("*.json"), reverse=True):
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("to", "").lower() == email.lower() and payload.get("code"):
            return str(payload["code"])
    return None
