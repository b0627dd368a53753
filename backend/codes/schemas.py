from __future__ import annotations

from pydantic import BaseModel, Field


class GenerateCodeRequest(BaseModel):
    contact: str = Field(min_length=3, max_length=320, description="E-mail or phone the code is for")


class GenerateCodeResponse(BaseModel):
    code: str
    expires_in: int


class VerifyCodeRequest(BaseModel):
    contact: str = Field(min_length=3, max_length=320)
    code: str = Field(min_length=1, max_length=16)


class VerifyCodeResponse(BaseModel):
    verified: bool = True
