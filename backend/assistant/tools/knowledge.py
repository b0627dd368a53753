"""The knowledge tools the model may call. Each belongs to one collection (faq or analytics)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from backend.assistant.context import TurnContext
from backend.assistant.tools.base import Tool

DIGEST_CHARS = 700
# What a caller without access gets instead of analytics: the niche name and this marker.
NEEDS_ACCESS = "needs_access: аналитика доступна после регистрации или с активной подпиской"


class FaqSearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=500, description="Вопрос посетителя своими словами")
    n_results: int = Field(default=5, ge=1, le=10)
    last_article_id: str | None = Field(default=None, max_length=12, description="Исключить эту статью")


class FaqSearchTool(Tool):
    name = "faq_search"
    description = (
        "Поиск статей базы знаний FAQ о сервисе. Возвращает статьи (id, заголовок, краткое содержание, оценки), "
        "answerable — есть ли в базе ответ, и sources — статьи, которые стоит показать."
    )
    Args: ClassVar[type[BaseModel]] = FaqSearchArgs
    collection = "faq"

    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]:
        found = await ctx.knowledge.faq_lookup(args.query, args.n_results, args.last_article_id)
        calibration = ctx.knowledge.calibration
        ctx.faq_hits = found.hits
        answerable = calibration.answers(found)
        ctx.faq_shown = [h.article_id for h in calibration.shown(found.hits)] if answerable else []
        keep = {"article_id", "title", "summary", "tags", "score", "coverage"}
        return {
            "results": [hit.model_dump(include=keep) for hit in found.hits],
            "answerable": answerable,
            "sources": ctx.faq_shown,
        }


class FaqGetByIdArgs(BaseModel):
    article_id: str = Field(pattern=r"^\d{1,12}$")


class FaqGetByIdTool(Tool):
    name = "faq_get_by_id"
    description = "Полный текст статьи FAQ по её article_id."
    Args: ClassVar[type[BaseModel]] = FaqGetByIdArgs
    collection = "faq"

    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]:
        article = await ctx.knowledge.faq_get_by_id(args.article_id)
        ctx.articles[article.article_id] = article
        return article.model_dump(include={"article_id", "title", "summary", "text"})


class TitlesSearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=300, description="Как посетитель описал свой бизнес")
    n_results: int = Field(default=5, ge=3, le=25)


class AnalyticsTitlesSearchTool(Tool):
    name = "analytics_titles_search"
    description = "Короткий список подходящих названий ниш (3–25) по описанию бизнеса."
    Args: ClassVar[type[BaseModel]] = TitlesSearchArgs
    collection = "analytics"

    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]:
        names = [hit.niche for hit in await ctx.knowledge.analytics_titles_search(args.query, args.n_results)]
        ctx.candidates = names
        return {"titles": names}


class TitlesRandomArgs(BaseModel):
    n: int = Field(default=5, ge=5, le=30)


class AnalyticsTitlesRandomTool(Tool):
    name = "analytics_titles_random"
    description = "Случайные названия ниш — для примеров, когда посетитель не знает, что выбрать."
    Args: ClassVar[type[BaseModel]] = TitlesRandomArgs
    collection = "analytics"

    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]:
        return {"titles": await ctx.knowledge.analytics_titles_random(args.n)}


class AnalyticsSearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=300)


class AnalyticsSearchTool(Tool):
    name = "analytics_search"
    description = "Запасной смысловой поиск по текстам аналитики, если ниша не определилась по названию."
    Args: ClassVar[type[BaseModel]] = AnalyticsSearchArgs
    collection = "analytics"

    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]:
        hits = await ctx.knowledge.analytics_search(args.query)
        return {"results": [hit.model_dump(include={"niche", "score"}) for hit in hits]}


class NicheArgs(BaseModel):
    niche: str = Field(min_length=1, max_length=300, description="Ниша так, как её назвал посетитель")


class AnalyticsGetByNicheTool(Tool):
    name = "analytics_get_by_niche"
    description = (
        "Аналитика по нише: точное название, текст аналитики (сокращённо). Таблицу сервер приложит сам. "
        "Если ниша неоднозначна — вернёт кандидатов."
    )
    Args: ClassVar[type[BaseModel]] = NicheArgs
    collection = "analytics"

    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]:
        found = await ctx.knowledge.analytics_get_by_niche(args.niche)
        if found.niche and found.table:
            ctx.analytics = found
            if not ctx.caller.has_access:  # the paywall is on the data: no text, table or figures
                return {"niche": found.niche, "access": NEEDS_ACCESS}
            return {
                "niche": found.niche,
                "analytics": (found.analytics or "")[:DIGEST_CHARS],
                "table": f"приложит сервер: {len(found.table.rows)} строк",
            }
        ctx.candidates = [hit.niche for hit in found.candidates]
        return {"niche": None, "candidates": ctx.candidates}


KNOWLEDGE_TOOLS: tuple[type[Tool], ...] = (
    FaqSearchTool,
    FaqGetByIdTool,
    AnalyticsTitlesSearchTool,
    AnalyticsTitlesRandomTool,
    AnalyticsSearchTool,
    AnalyticsGetByNicheTool,
)
