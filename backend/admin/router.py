"""``/admin/users…``: the operators' account management over HTTP (rules in ``service.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from backend.admin.dependencies import ADMIN_ERRORS, AdminOnly, UserAdminDep
from backend.admin.schemas import DeletionReport, GrantRequest, UserDetail, UserList, UserSummary
from backend.core.database import commit
from backend.core.dependencies import DbSession
from backend.core.openapi import error_responses

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=ADMIN_ERRORS,
)
Email = Annotated[str, Path(min_length=3, max_length=320, description="the account's e-mail")]
_missing = error_responses(404, descriptions={404: "USER_NOT_FOUND"})


@router.get("/users", response_model=UserList)
async def list_users(
    admin: UserAdminDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UserList:
    return await admin.list(limit, offset)


@router.get("/users/{email}", response_model=UserDetail, responses=_missing)
async def show_user(email: Email, admin: UserAdminDep) -> UserDetail:
    return await admin.show(email)


@router.post("/users/{email}/grant", response_model=UserSummary, responses=_missing)
async def grant_access(email: Email, body: GrantRequest, admin: UserAdminDep) -> UserSummary:
    return await admin.grant(email, body.days)


@router.post("/users/{email}/revoke", response_model=UserSummary, responses=_missing)
async def revoke_access(email: Email, admin: UserAdminDep) -> UserSummary:
    return await admin.revoke(email)


@router.delete("/users/{email}", response_model=DeletionReport, responses=_missing)
async def delete_user(email: Email, admin: UserAdminDep, db: DbSession) -> DeletionReport:
    """Erase the account and its data (152-FZ / GDPR); answers what was removed."""
    report = await admin.delete(email)
    await commit(db)  # files and Redis states go after the commit; the report is complete then
    return report
