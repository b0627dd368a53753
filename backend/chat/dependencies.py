from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.assistant.context import Caller
from backend.auth.dependencies import CurrentUserOptional
from backend.chat.service import ChatService, build_caller
from backend.core.dependencies import SettingsDep


async def get_chat_service(request: Request) -> ChatService:
    service: ChatService = request.app.state.runtime.chat_service()
    return service


async def get_caller(user: CurrentUserOptional, settings: SettingsDep) -> Caller:
    return build_caller(user, settings)


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
CallerDep = Annotated[Caller, Depends(get_caller)]
