from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from backend.codes.service import CodeService
from backend.core.client_ip import request_ip
from backend.core.dependencies import LimiterDep, RedisDep, SettingsDep
from backend.core.errors import Forbidden, Unauthorized


async def get_code_service(redis: RedisDep, limiter: LimiterDep, settings: SettingsDep) -> CodeService:
    return CodeService(redis, limiter, settings)


async def require_admin_token(settings: SettingsDep, x_admin_token: Annotated[str | None, Header()] = None) -> None:
    if not x_admin_token:
        raise Unauthorized("Нужен заголовок X-Admin-Token.", error_code="ADMIN_TOKEN_REQUIRED")
    if not hmac.compare_digest(x_admin_token.encode(), settings.SECRET_ADMIN_TOKEN.encode()):
        raise Forbidden("Неверный X-Admin-Token.", error_code="ADMIN_TOKEN_INVALID")


async def limit_verify_per_ip(request: Request, limiter: LimiterDep, settings: SettingsDep) -> None:
    """RATE_VERIFY_CODE_IP attempts per client IP on POST /api/verify-code (then 429 + Retry-After)."""
    ip = request_ip(request, settings)
    detail = "Слишком много попыток ввода кода с вашего адреса. Попробуйте через {seconds} с."
    await limiter.enforce(settings.RATE_VERIFY_CODE_IP, detail, "CODE_VERIFY_LIMIT", "otp-verify-ip", ip)


CodeServiceDep = Annotated[CodeService, Depends(get_code_service)]
AdminOnly = Depends(require_admin_token)
VerifyLimitedPerIP = Depends(limit_verify_per_ip)
