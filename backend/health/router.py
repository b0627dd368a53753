from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from backend.health.service import HealthRegistry

router = APIRouter(tags=["health"])


class HealthReport(BaseModel):
    status: str
    checks: dict[str, str]


class HealthFailure(HealthReport):
    error_code: str
    detail: str


@router.get("/health", response_model=HealthReport, responses={503: {"model": HealthFailure}})
async def health(request: Request) -> HealthReport | JSONResponse:
    registry: HealthRegistry = request.app.state.health
    checks = await registry.run()
    down = sorted(name for name, status in checks.items() if status != "ok")
    if down:
        failure = HealthFailure(
            status="fail",
            checks=checks,
            error_code="DEPENDENCY_UNAVAILABLE",
            detail="Недоступно: " + ", ".join(down),
        )
        return JSONResponse(failure.model_dump(), status_code=503)
    return HealthReport(status="ok", checks=checks)
