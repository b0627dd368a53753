from __future__ import annotations

from fastapi import APIRouter

from backend.codes.dependencies import AdminOnly, CodeServiceDep
from backend.codes.schemas import (
    GenerateCodeRequest,
    GenerateCodeResponse,
    VerifyCodeRequest,
    VerifyCodeResponse,
)

router = APIRouter(prefix="/api", tags=["codes"])


@router.post("/generate-code", response_model=GenerateCodeResponse, dependencies=[AdminOnly])
async def generate_code(body: GenerateCodeRequest, codes: CodeServiceDep) -> GenerateCodeResponse:
    issued = await codes.issue(body.contact)
    return GenerateCodeResponse(code=issued.code, expires_in=issued.expires_in)


@router.post("/verify-code", response_model=VerifyCodeResponse)
async def verify_code(body: VerifyCodeRequest, codes: CodeServiceDep) -> VerifyCodeResponse:
    await codes.verify(body.contact, body.code)
    return VerifyCodeResponse()
