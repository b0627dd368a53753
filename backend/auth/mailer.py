"""Delivers one-time codes: SMTP (aiosmtplib) when configured, otherwise a development outbox.

Codes are never written to logs; the outbox is a directory of JSON files for local testing.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib

from backend.core.config import Settings
from backend.core.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

SUBJECT = "Код подтверждения Leadinc"
BODY = (
    "Ваш код подтверждения: {code}\n\nКод действует {minutes} минут. Если вы его не запрашивали, просто удалите письмо."
)


class CodeMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send_code(self, email: str, code: str) -> None:
        minutes = max(1, self._settings.CODE_TTL_SECONDS // 60)
        text = BODY.format(code=code, minutes=minutes)
        if self._settings.SMTP_HOST:
            await self._send_smtp(email, text)
        else:
            self._write_outbox(email, text, code)
        logger.info("code delivered", extra={"channel": "smtp" if self._settings.SMTP_HOST else "outbox"})

    async def _send_smtp(self, email: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = f"{self._settings.EMAILS_FROM_NAME} <{self._settings.EMAILS_FROM_EMAIL}>"
        message["To"] = email
        message["Subject"] = SUBJECT
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
            raise ServiceUnavailable("Не удалось отправить письмо с кодом. Попробуйте чуть позже.") from exc

    def _write_outbox(self, email: str, text: str, code: str) -> None:
        outbox = self._settings.dev_outbox_dir
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = outbox / f"{stamp}_{secrets.token_hex(4)}.json"
        payload = {"to": email, "subject": SUBJECT, "body": text, "code": code, "sent_at": stamp}
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


def latest_outbox_code(settings: Settings, email: str) -> str | None:
    """The newest code sent to ``email`` in the development outbox (tests and demos)."""
    outbox = settings.dev_outbox_dir
    if not outbox.is_dir():
        return None
    for path in sorted(outbox.glob("*.json"), reverse=True):
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("to", "").lower() == email.lower():
            return str(payload["code"])
    return None
