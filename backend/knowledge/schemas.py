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
    score: float  # the fused hybrid score, scaled to the retrieved pool (the best hit is near 1)
    # Raw evidence, comparable across queries (the fused score is not): the best dense cosine of the
    # article's units, its BM25 score, and the share of the question's content words it contains.
    dense: float = 0.0
    lexical: float = 0.0
    coverage: float = 0.0
    sentence_coverage: float = 0.0  # the largest share of those words one sentence of it holds
    weighted_coverage: float = 0.0  # the share of those words it holds, each weighted by its rarity in the FAQ


class FaqResult(BaseModel):
    """``faq_lookup``: the ranked hits and how much of the question the FAQ knows at all."""

    hits: list[FaqHit]
    known_share: float = 0.0  # share of the question's content words found anywhere in the FAQ
    unknown_words: int = 0  # content words of the question no article uses (after spelling correction)
    unknown_topic_words: int = 0  # of those, the long ones (topic words rather than chat words)
    content_words: int = 0  # the question's content words (stems, after spelling correction)
    missing_in_first: int = 0  # of those, words the FAQ uses elsewhere but the first article does not
    sentence_count: int = 1  # sentences of the question: visitors who introduce themselves first write several
    english: bool = False  # written in English: the FAQ's Russian words say nothing of it
    dense_missing: bool = False  # no dense evidence (the vector store is down): lexical hits only


class QuerySignals(BaseModel):
    """How well a message matches the live corpus, for routing: comparable across corpora."""

    faq_dense: float  # best dense cosine of any FAQ article
    faq_lexical: float  # best BM25 score of any FAQ article
    faq_coverage: float  # best share of the message's content words found in one of the top articles
    faq_known_share: float  # share of the message's content words found anywhere in the FAQ
    niche_semantic: float  # best cosine of any niche title/alias/summary vector
    niche_name_share: float  # best share of a niche name's words the message carries


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
    method: str | None = None  # exact | alias | fuzzy | semantic | ranked
    candidates: list[NicheHit] = Field(default_factory=list)
    lead: float | None = None  # the fused ranking's first niche over the second, as a share of the first
    show: int = 5


class NicheLookup(BaseModel):
    """``analytics_get_by_niche``: the analytics when resolved, else candidates."""

    niche: str | None = None
    category: str | None = None
    analytics: str | None = None
    table: Table | None = None
    candidates: list[NicheHit] = Field(default_factory=list)
