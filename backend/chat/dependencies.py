from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.assistant.context import Caller
from backend.auth.dependencies import CurrentUserOptional, SessionStoreDep
from backend.chat.service import ChatService
from backend.core.dependencies import LimiterDep, SettingsDep


def get_chat_service(
    request: Request, store: SessionStoreDep, limiter: LimiterDep, settings: SettingsDep
) -> ChatService:
    return ChatService(
        db_factory=request.app.state.db_factory,
        engine=request.app.state.engine,
        store=store,
        limiter=limiter,
        settings=settings,
    )


def get_caller(user: CurrentUserOptional, settings: SettingsDep) -> Caller:
    if user is None:
        return Caller(user_id=None)
    whitelisted = user.email.lower() in {e.lower() for e in settings.SUBSCRIPTION_WHITELIST}
    return Caller(user_id=user.id, email=user.email, has_access=whitelisted or user.has_active_access())


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
CallerDep = Annotated[Caller, Depends(get_caller)]
