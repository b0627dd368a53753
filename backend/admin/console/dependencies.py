from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession

from backend.admin.console.service import Console, HandoffDesk
from backend.auth.dependencies import CurrentUserOptional
from backend.core.dependencies import DbSession, SettingsDep, get_db


async def get_console(db: DbSession) -> Console:
    return Console(db)


# The CSV is streamed after the route returns: its session must live until the response is sent
# (request scope), unlike DbSession which closes before the response starts.
async def get_streaming_console(db: Annotated[AsyncSession, Depends(get_db, scope="request")]) -> Console:
    return Console(db)


ConsoleDep = Annotated[Console, Depends(get_console)]
StreamingConsoleDep = Annotated[Console, Depends(get_streaming_console)]


async def get_handoff_desk(db: DbSession, settings: SettingsDep) -> HandoffDesk:
    return HandoffDesk(db, settings)


async def current_manager(
    user: CurrentUserOptional, x_admin_token: Annotated[str | None, Header(include_in_schema=False)] = None
) -> uuid.UUID | None:
    """The superuser acting (the router's guard has checked them); none for a script with X-Admin-Token."""
    if x_admin_token is not None or user is None:
        return None
    return user.id


HandoffDeskDep = Annotated[HandoffDesk, Depends(get_handoff_desk)]
ManagerDep = Annotated[uuid.UUID | None, Depends(current_manager)]
