from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi_users import schemas as fu_schemas
from fastapi_users.router import get_reset_password_router, get_verify_router

from backend.auth import service
from backend.auth.cookies import clear_cookies
from backend.auth.dependencies import CurrentSession, CurrentUserOptional, SessionStoreDep, limit_mail_links_per_ip
from backend.auth.mailer import CodeMailer
from backend.auth.schemas import (
    LoginRequest,
    LogoutResponse,
    NotAuthenticated,
    RegisterRequest,
    RequestCodeRequest,
    RequestCodeResponse,
    UserProfile,
    Visit,
)
from backend.auth.sessions import record_visit
from backend.auth.users import UserManagerDep, get_user_manager, jwt_strategy
from backend.codes.dependencies import CodeServiceDep
from backend.core.client_ip import request_ip
from backend.core.dependencies import DbSession, LimiterDep, RedisDep, SettingsDep
from backend.core.errors import AppError, Unauthorized
from backend.core.openapi import error_responses
from backend.metrics.instruments import record_login_failure

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=201,
    response_model=UserProfile,
    responses=error_responses(409, descriptions={409: "USER_ALREADY_EXISTS"}),
)
async def register(body: RegisterRequest, db: DbSession, settings: SettingsDep) -> UserProfile:
    user = await service.register(db, settings, body.email, body.password)
    return service.profile(user, settings)


@router.post(
    "/request-code",
    status_code=202,
    response_model=RequestCodeResponse,
    responses=error_responses(429, descriptions={429: "CODE_REQUEST_LIMIT (Retry-After)"}),
)
async def request_code(
    body: RequestCodeRequest,
    request: Request,
    background: BackgroundTasks,
    codes: CodeServiceDep,
    db: DbSession,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> RequestCodeResponse:
    """A login code by e-mail for API clients (then ``/auth/jwt/login_custom`` with ``code``).
    The same answer whether or not the account exists; the mail goes out after the response."""
    ip = request_ip(request, settings)
    await service.enforce_code_request_limits(limiter, settings, body.email, ip)
    code = await service.issue_login_code(db, settings, codes, body.email)
    if code is not None:
        background.add_task(service.deliver_code, CodeMailer(settings), str(body.email).lower(), code)
    return RequestCodeResponse(detail="Если аккаунт с таким e-mail есть, мы отправили на него код для входа.")


@router.post(
    "/jwt/login_custom",
    response_model=UserProfile,
    responses=error_responses(
        400,
        401,
        429,
        descriptions={
            400: "CODE_INVALID, CODE_EXPIRED, CODE_ATTEMPTS_EXCEEDED",
            401: "INVALID_CREDENTIALS",
            429: "LOGIN_RATE_LIMITED, CODE_VERIFY_LIMIT",
        },
    ),
)
async def login_custom(
    body: LoginRequest,
    request: Request,
    response: Response,
    manager: UserManagerDep,
    codes: CodeServiceDep,
    store: SessionStoreDep,
    db: DbSession,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> UserProfile:
    ip = request_ip(request, settings)
    await service.enforce_login_limits(limiter, settings, body.email, ip)
    try:
        user = await service.authenticate(manager, codes, body)
    except AppError as exc:
        record_login_failure("password" if body.password is not None else "code", exc.error_code)
        raise
    await service.sign_in(response, user, request.cookies.get(settings.SESSION_COOKIE_NAME), store, db, settings)
    return service.profile(user, settings)


@router.post("/jwt/logout", response_model=LogoutResponse)
async def logout(
    request: Request, response: Response, store: SessionStoreDep, redis: RedisDep, settings: SettingsDep
) -> LogoutResponse:
    """Ends this session and revokes its JWT (denylisted in Redis until it would expire)."""
    token = request.cookies.get(settings.AUTH_COOKIE_NAME)
    if token:
        await jwt_strategy(settings, redis).destroy_token(token)
    await store.destroy(request.cookies.get(settings.SESSION_COOKIE_NAME))
    clear_cookies(response, settings)
    return LogoutResponse()


@router.post("/jwt/logout-all", response_model=LogoutResponse, responses=error_responses(401))
async def logout_all(
    request: Request,
    response: Response,
    user: CurrentUserOptional,
    store: SessionStoreDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> LogoutResponse:
    """Log out everywhere: every JWT of this user issued until now is refused from now on."""
    if user is None:
        raise Unauthorized("Вы не вошли в аккаунт.")
    await jwt_strategy(settings, redis).revoke_all(user.id)
    await store.destroy(request.cookies.get(settings.SESSION_COOKIE_NAME))
    clear_cookies(response, settings)
    return LogoutResponse()


@router.get(
    "/users/me",
    response_model=UserProfile,
    responses={401: {"model": NotAuthenticated}},
)
async def me(user: CurrentUserOptional, settings: SettingsDep) -> UserProfile | JSONResponse:
    if user is None:
        body = NotAuthenticated(detail="Вы не вошли в аккаунт.")
        return JSONResponse(body.model_dump(), status_code=401)
    return service.profile(user, settings)


@router.get(
    "/session",
    summary="Start or renew the conversation session",
    description="The chat page passes where the visitor came from (landing page, referrer, UTM tags); a new "
    "session keeps them (first touch), an existing one ignores them.",
    responses=error_responses(429, descriptions={429: "SESSION_RATE_LIMITED: too many new sessions from this IP"}),
)
async def session(state: CurrentSession, visit: Annotated[Visit, Query()]) -> dict[str, object]:
    record_visit(state, visit.given())
    return {"user_id": str(state.user_id) if state.user_id else None, "renewed": state.is_new}


# Password reset and e-mail verification: fastapi-users' own routers (forgot-password,
# reset-password, request-verify-token, verify). The manager (users.py) mails the tokens and turns a
# bad, used or expired token into our error shape; every call counts against RATE_MAIL_LINK_IP.
_token_errors = error_responses(
    400,
    409,
    429,
    descriptions={
        400: "RESET_TOKEN_INVALID, RESET_TOKEN_EXPIRED, VERIFY_TOKEN_INVALID, VERIFY_TOKEN_EXPIRED",
        409: "ALREADY_VERIFIED",
        429: "MAIL_LINK_RATE_LIMITED",
    },
)
for _tokens in (
    get_reset_password_router(get_user_manager),  # type: ignore[type-var,unused-ignore]  # mypy differs cold vs cached here
    get_verify_router(get_user_manager, fu_schemas.BaseUser[uuid.UUID]),  # type: ignore[type-var,unused-ignore]  # mypy differs cold vs cached here
):
    for _route in _tokens.routes:  # their own 400 schema is fastapi-users' {"detail"}: document ours
        if isinstance(_route, APIRoute):
            _route.responses.update(_token_errors)
    router.include_router(_tokens, dependencies=[Depends(limit_mail_links_per_ip)])
