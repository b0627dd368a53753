"""The reply contract of SPEC section 3, validated before any reply leaves the server."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.knowledge.schemas import Table


class Scenario(StrEnum):
    FAQ = "FAQ"
    ANALYTICS = "ANALYTICS"
    REGISTRATION = "REGISTRATION"
    OFFTOPIC = "OFFTOPIC"


class Source(BaseModel):
    article_id: str
    title: str


class Dashboard(BaseModel):
    niche: str
    table: Table


class AudioRef(BaseModel):
    task_id: str
    status_url: str


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: Scenario
    action: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z_]*$")
    reply: str = Field(min_length=1, max_length=8000)
    fields: dict[str, Any] = Field(default_factory=dict)
    stage: Literal[1, 2, 3] | None = None
    sources: list[Source] = Field(default_factory=list)
    dashboard: Dashboard | None = None
    audio: AudioRef | None = None

    @field_validator("reply")
    @classmethod
    def _strip(cls, value: str) -> str:
        # A NUL from a model is noise, and PostgreSQL's text cannot store it.
        return value.replace("\x00", "").strip() or "…"

    @field_validator("fields")
    @classmethod
    def _strip_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = _without_nul(value)  # they are stored as JSONB, which cannot hold NUL either
        return cleaned

    @model_validator(mode="after")
    def _normalise(self) -> Reply:
        if self.scenario != Scenario.REGISTRATION:
            self.stage = None
        self.fields.setdefault("action", self.action)
        return self


def _without_nul(value: Any) -> Any:
    """``value`` with NUL dropped from every string in it, keys included."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def coerce_reply(raw: dict[str, Any]) -> Reply:
    """Normalise a model's JSON the way the seed did (types guaranteed), then validate strictly.

    Raises ``pydantic.ValidationError`` when it cannot be made valid.
    """
    data = dict(raw)
    scenario = str(data.get("scenario", "")).strip().upper()
    data["scenario"] = scenario
    action = data.get("action") or (data.get("fields") or {}).get("action") or "answer"
    data["action"] = str(action).strip().lower().replace("-", "_").replace(" ", "_")[:40]
    if not isinstance(data.get("fields"), dict):
        data["fields"] = {}
    if not isinstance(data.get("sources"), list):
        data["sources"] = []
    stage = data.get("stage")
    data["stage"] = int(stage) if isinstance(stage, int | str) and str(stage) in {"1", "2", "3"} else None
    for key in list(data):
        if key not in Reply.model_fields:
            data.pop(key)
    return Reply.model_validate(data)
