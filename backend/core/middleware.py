"""Pure-ASGI middleware: request id, request body size cap, host check answering in the error shape."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.logging import request_id_var


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` (if sane) or makes one; echoes it and exposes it to the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class BodyTooLarge(HTTPException):
    """Raised while streaming; FastAPI re-raises HTTPExceptions from body reading unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Тело запроса больше допустимого ({limit} байт).")


class BodySizeLimitMiddleware:
    """Rejects bodies over the cap with 413 in the SPEC error shape, by header or while streaming.

    ``overrides`` maps a path prefix to its own cap (audio uploads are larger than chat JSON).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _reject(send, limit)


async def _reject(send: Send, limit: int) -> None:
    await _send_error(send, 413, "PAYLOAD_TOO_LARGE", f"Тело запроса больше допустимого ({limit} байт).")


async def _send_error(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"error_code": code, "detail": detail}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


_ADMITTED = "leadinc.host_admitted"


class JsonTrustedHostMiddleware(TrustedHostMiddleware):
    """Starlette's ``ALLOWED_HOSTS`` check (same matching, same www redirect), but a refused host
    gets ``400 {"error_code": "INVALID_HOST", ...}`` instead of a plain-text "Invalid host header"."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str] | None = None, www_redirect: bool = True) -> None:
        async def admitted(scope: Scope, receive: Receive, send: Send) -> None:
            scope[_ADMITTED] = True
            await app(scope, receive, send)

        super().__init__(admitted, allowed_hosts=allowed_hosts, www_redirect=www_redirect)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        replaced = False

        async def shaped_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the body of the plain-text refusal
            refused = message["type"] == "http.response.start" and message["status"] == 400
            if refused and not scope.get(_ADMITTED):
                replaced = True
                await _send_error(send, 400, "INVALID_HOST", "Недопустимый заголовок Host.")
                return
            await send(message)

        await super().__call__(scope, receive, shaped_send)
