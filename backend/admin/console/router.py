"""``/admin/conversations…``, ``/admin/leads…``, ``/admin/stats/funnel``: the operator console API
(read-only except a conversation's handoff: take, reply, release, close) (rules in ``service.py``, SQL in ``repository.py``); the same guard as ``/admin/users``."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from backend.admin.console.dependencies import ConsoleDep, HandoffDeskDep, ManagerDep, StreamingConsoleDep
from backend.admin.console.repository import ConversationFilter
from backend.admin.console.schemas import (
    ConversationList,
    FunnelStats,
    HandoffStatus,
    LeadList,
    ManagerReply,
    PostedReply,
    Transcript,
)
from backend.admin.dependencies import ADMIN_ERRORS, AdminOnly
from backend.core.openapi import error_responses

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=ADMIN_ERRORS,
)
Limit = Annotated[int, Query(ge=1, le=200)]
HandoffFilter = Literal["assistant", "waiting", "taken", "closed"]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("/conversations", response_model=ConversationList)
async def list_conversations(
    console: ConsoleDep,
    since: Annotated[AwareDatetime | None, Query(description="last message at or after (ISO 8601)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="first message before (ISO 8601)")] = None,
    scenario: Annotated[str | None, Query(max_length=16, pattern=r"^[A-Z_]+$")] = None,
    registered: Annotated[bool | None, Query(description="true: accounts only; false: guests only")] = None,
    failed: Annotated[bool | None, Query(description="true: some turn fell back or failed")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="text in any message")] = None,
    handoff: Annotated[HandoffFilter | None, Query(description="handoff state, e.g. waiting")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ConversationList:
    filters = ConversationFilter(
        since=since, until=until, scenario=scenario, registered=registered, failed=failed, q=q, handoff=handoff
    )
    return await console.conversations(filters, limit, offset)


@router.get(
    "/conversations/{conversation_id}",
    response_model=Transcript,
    responses=error_responses(404, descriptions={404: "CONVERSATION_NOT_FOUND"}),
)
async def show_conversation(conversation_id: uuid.UUID, console: ConsoleDep) -> Transcript:
    return await console.transcript(conversation_id)


@router.get("/leads", response_model=LeadList)
async def list_leads(console: ConsoleDep, limit: Limit = 50, offset: Offset = 0) -> LeadList:
    return await console.leads(limit, offset)


@router.get(
    "/leads.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "every lead"}},
)
async def export_leads(console: StreamingConsoleDep) -> StreamingResponse:
    return StreamingResponse(
        console.leads_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


@router.get("/stats/funnel", response_model=FunnelStats)
async def funnel_stats(console: ConsoleDep, days: Annotated[int, Query(ge=1, le=366)] = 30) -> FunnelStats:
    return await console.funnel(days)


_NOT_FOUND = error_responses(404, descriptions={404: "CONVERSATION_NOT_FOUND"})


@router.post(
    "/conversations/{conversation_id}/take",
    response_model=HandoffStatus,
    responses=error_responses(404, 409, descriptions={404: "CONVERSATION_NOT_FOUND", 409: "CONVERSATION_TAKEN"}),
)
async def take_conversation(conversation_id: uuid.UUID, desk: HandoffDeskDep, manager: ManagerDep) -> HandoffStatus:
    return await desk.take(conversation_id, manager)


@router.post(
    "/conversations/{conversation_id}/reply",
    response_model=PostedReply,
    status_code=status.HTTP_201_CREATED,
    responses=_NOT_FOUND,
)
async def reply_to_conversation(
    conversation_id: uuid.UUID, body: ManagerReply, desk: HandoffDeskDep, manager: ManagerDep
) -> PostedReply:
    return await desk.reply(conversation_id, manager, body.text)


@router.post("/conversations/{conversation_id}/release", response_model=HandoffStatus, responses=_NOT_FOUND)
async def release_conversation(conversation_id: uuid.UUID, desk: HandoffDeskDep) -> HandoffStatus:
    return await desk.release(conversation_id)


@router.post("/conversations/{conversation_id}/close", response_model=HandoffStatus, responses=_NOT_FOUND)
async def close_conversation(conversation_id: uuid.UUID, desk: HandoffDeskDep) -> HandoffStatus:
    return await desk.close(conversation_id)
