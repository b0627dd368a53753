from __future__ import annotations

from fastapi import APIRouter

from backend.codes.dependencies import AdminOnly, CodeServiceDep, VerifyLimitedPerIP
from backend.codes.schemas import (
    GenerateCodeRequest,
    GenerateCodeResponse,
    VerifyCodeRequest,
    VerifyCodeResponse,
)
from backend.core.openapi import error_responses

router = APIRouter(prefix="/api", tags=["codes"])


@router.post(
    "/generate-code",
    response_model=GenerateCodeResponse,
    dependencies=[AdminOnly],
    responses=error_responses(
        401,
        403,
        429,
        descriptions={401: "ADMIN_TOKEN_REQUIRED", 403: "ADMIN_TOKEN_INVALID", 429: "CODE_LIMIT_EXCEEDED"},
    ),
)
async def generate_code(body: GenerateCodeRequest, codes: CodeServiceDep) -> GenerateCodeResponse:
    issued = await codes.issue(body.contact)
    return GenerateCodeResponse(code=issued.code, expires_in=issued.expires_in)


@router.post(
    "/verify-code",
    response_model=VerifyCodeResponse,
    dependencies=[VerifyLimitedPerIP],
    responses=error_responses(
        400,
        429,
        descriptions={400: "CODE_INVALID, CODE_EXPIRED, CODE_ATTEMPTS_EXCEEDED", 429: "CODE_VERIFY_LIMIT"},
    ),
)
async def verify_code(body: VerifyCodeRequest, codes: CodeServiceDep) -> VerifyCodeResponse:
    await codes.verify(body.contact, body.code)
    return VerifyCodeResponse()
