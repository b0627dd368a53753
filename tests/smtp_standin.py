"""A real SMTP server for the tests (aiosmtpd on a free local port, in its own thread).

It accepts every message and keeps it parsed; tests read tokens and notices from what arrived, the
same way a mail client would. ``settings_values()`` points the app's mailer at it (no TLS, no auth).
"""

from __future__ import annotations

import re
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from faults.support import free_port


class _Collector:
    def __init__(self, server: SMTPStandIn) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._server.lock:
            self._server.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SMTPStandIn:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SMTPStandIn:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def reset(self) -> SMTPStandIn:
        with self.lock:
            self.received.clear()
        return self

    def settings_values(self) -> dict[str, Any]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_TLS": False}

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for rcpts, message in self.received if address.lower() in (r.lower() for r in rcpts)]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """The first ``count`` messages to ``address``, waiting up to ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages_to(address)
            if len(messages) >= count or time.monotonic() > deadline:
                assert len(messages) >= count, f"{len(messages)} of {count} messages to {address} arrived"
                return messages[:count]
            time.sleep(0.05)


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


TOKEN = re.compile(r"^(eyJ[\w-]+\.[\w-]+\.[\w-]+)$", re.MULTILINE)


def token_in(message: EmailMessage) -> str:
    """The signed token (a JWT on a line of its own) a reset or verification message carries."""
    found = TOKEN.search(body_of(message))
    assert found, body_of(message)
    return found.group(1)
