from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from backend.auth import service
from backend.auth.cookies import clear_cookies
from backend.auth.dependencies import CurrentSession, CurrentUserOptional, SessionStoreDep
from backend.auth.schemas import LoginRequest, LogoutResponse, NotAuthenticated, RegisterRequest, UserProfile
from backend.auth.users import UserManagerDep
from backend.codes.dependencies import CodeServiceDep
from backend.core.dependencies import DbSession, SettingsDep
from backend.core.openapi import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=201,
    response_model=UserProfile,
    responses=error_responses(409, descriptions={409: "USER_ALREADY_EXISTS"}),
)
async def register(body: RegisterRequest, manager: UserManagerDep, settings: SettingsDep) -> UserProfile:
    user = await service.register(manager, body.email, body.password)
    return service.profile(user, settings)


@router.post(
    "/jwt/login_custom",
    response_model=UserProfile,
    responses=error_responses(
        400, 401, descriptions={400: "CODE_INVALID, CODE_EXPIRED, CODE_ATTEMPTS_EXCEEDED", 401: "INVALID_CREDENTIALS"}
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
) -> UserProfile:
    user = await service.authenticate(manager, codes, body)
    await service.sign_in(response, user, request.cookies.get(settings.SESSION_COOKIE_NAME), store, db, settings)
    return service.profile(user, settings)


@router.post("/jwt/logout", response_model=LogoutResponse)
async def logout(request: Request, response: Response, store: SessionStoreDep, settings: SettingsDep) -> LogoutResponse:
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


@router.get("/session", summary="Start or renew the conversation session")
async def session(state: CurrentSession) -> dict[str, object]:
    return {"user_id": str(state.user_id) if state.user_id else None, "renewed": state.is_new}
