from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from backend.codes.service import CodeService
from backend.core.dependencies import LimiterDep, RedisDep, SettingsDep
from backend.core.errors import Forbidden, Unauthorized


def get_code_service(redis: RedisDep, limiter: LimiterDep, settings: SettingsDep) -> CodeService:
    return CodeService(redis, limiter, settings)


def require_admin_token(settings: SettingsDep, x_admin_token: Annotated[str | None, Header()] = None) -> None:
    if not x_admin_token:
        raise Unauthorized("Нужен заголовок X-Admin-Token.", error_code="ADMIN_TOKEN_REQUIRED")
    if not hmac.compare_digest(x_admin_token.encode(), settings.SECRET_ADMIN_TOKEN.encode()):
        raise Forbidden("Неверный X-Admin-Token.", error_code="ADMIN_TOKEN_INVALID")


CodeServiceDep = Annotated[CodeService, Depends(get_code_service)]
AdminOnly = Depends(require_admin_token)
