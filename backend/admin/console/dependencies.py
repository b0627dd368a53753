from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from backend.admin.console.service import Console
from backend.core.dependencies import DbSession, get_db


def get_console(db: DbSession) -> Console:
    return Console(db)


# The CSV is streamed after the route returns: its session must live until the response is sent
# (request scope), unlike DbSession which closes before the response starts.
def get_streaming_console(db: Annotated[AsyncSession, Depends(get_db, scope="request")]) -> Console:
    return Console(db)


ConsoleDep = Annotated[Console, Depends(get_console)]
StreamingConsoleDep = Annotated[Console, Depends(get_streaming_console)]
