"""Typed records and results of the knowledge layer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Table(BaseModel):
    columns: list[str]
    rows: list[list[str]]


class FaqRecord(BaseModel):
    article_id: str
    title: str
    summary: str
    tags: list[str] = Field(default_factory=list)
    meta_tags: list[str] = Field(default_factory=list)
    text: str
    source: str = ""  # file:line


class NicheRecord(BaseModel):
    niche: str
    aliases: list[str] = Field(default_factory=list)
    category: str | None = None
    analytics: str
    table: Table
    source: str = ""


class FaqHit(BaseModel):
    article_id: str
    title: str
    summary: str
    tags: list[str]
    meta_tags: list[str]
    score: float


class NicheHit(BaseModel):
    niche: str
    category: str | None = None
    score: float


class NicheAnalytics(BaseModel):
    niche: str
    category: str | None = None
    analytics: str
    table: Table


class NicheResolution(BaseModel):
    """Either one confident ``niche`` or a ranked shortlist of ``candidates``."""

    niche: str | None = None
    method: str | None = None  # exact | alias | fuzzy | semantic
    candidates: list[NicheHit] = Field(default_factory=list)
    show: int = 5


class NicheLookup(BaseModel):
    """``analytics_get_by_niche``: the analytics when resolved, else candidates."""

    niche: str | None = None
    category: str | None = None
    analytics: str | None = None
    table: Table | None = None
    candidates: list[NicheHit] = Field(default_factory=list)
