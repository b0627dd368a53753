"""Who may manage accounts: a fastapi-users superuser (JWT cookie), or a script with ``X-Admin-Token``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from backend.admin.exceptions import AdminRequired
from backend.admin.service import UserAdmin
from backend.auth.dependencies import CurrentUserOptional
from backend.core.dependencies import DbSession, RedisDep, SettingsDep
from backend.core.errors import Forbidden, Unauthorized
from backend.core.openapi import error_responses


async def require_admin(
    settings: SettingsDep, user: CurrentUserOptional, x_admin_token: Annotated[str | None, Header()] = None
) -> None:
    if x_admin_token is not None:
        if not hmac.compare_digest(x_admin_token.encode(), settings.SECRET_ADMIN_TOKEN.encode()):
            raise Forbidden("Неверный X-Admin-Token.", error_code="ADMIN_TOKEN_INVALID")
        return
    if user is None:
        raise Unauthorized("Войдите как администратор или передайте X-Admin-Token.")
    if not user.is_superuser:
        raise AdminRequired


async def get_user_admin(db: DbSession, settings: SettingsDep, redis: RedisDep) -> UserAdmin:
    return UserAdmin(db, settings, redis)


AdminOnly = Depends(require_admin)
# The errors every admin route answers through ``AdminOnly`` (its routers declare them once).
ADMIN_ERRORS = error_responses(
    401, 403, descriptions={401: "NOT_AUTHENTICATED", 403: "ADMIN_REQUIRED, ADMIN_TOKEN_INVALID"}
)
UserAdminDep = Annotated[UserAdmin, Depends(get_user_admin)]
