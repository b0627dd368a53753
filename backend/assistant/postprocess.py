"""Server-side finishing of a reply: FAQ sources from what the tools really returned, and the
ANALYTICS access check plus the dashboard table (which never went through the model)."""

from __future__ import annotations

from typing import Any

from backend.assistant.context import TurnContext
from backend.assistant.contract import Dashboard, Reply, Source
from backend.assistant.funnel import FunnelState
from backend.assistant.texts import VisitorTexts
from backend.knowledge.calibration import MAX_SOURCES


def attach_sources(reply: Reply, ctx: TurnContext) -> Reply:
    known = {hit.article_id: hit.title for hit in ctx.faq_hits}
    known.update({aid: article.title for aid, article in ctx.articles.items()})
    if reply.action == "no_answer":
        ctx.session_data.pop("faq", None)  # no article is current: «подробнее» or «не понял» has nothing to go on
        return reply.model_copy(update={"sources": [], "dashboard": None})
    declared = [s.article_id for s in reply.sources if s.article_id in known]
    if not declared:
        declared = ctx.faq_shown or list(ctx.articles) or [hit.article_id for hit in ctx.faq_hits[:1]]
    sources = [Source(article_id=aid, title=known[aid]) for aid in dict.fromkeys(declared) if aid in known]
    sources = sources[:MAX_SOURCES]
    if sources:
        ctx.session_data["faq"] = {"article_id": sources[0].article_id}
    return reply.model_copy(update={"sources": sources, "dashboard": None})


async def _resolve(ctx: TurnContext, reply: Reply, text: str, funnel: FunnelState) -> None:
    if ctx.analytics is not None or ctx.candidates:
        return
    wanted = str(reply.fields.get("niche") or "").strip()
    if not wanted and funnel.stage == 3 and funnel.niche:
        wanted = funnel.niche
    found = await ctx.knowledge.analytics_get_by_niche(wanted or text)
    if found.niche and found.table:
        ctx.analytics = found
    else:
        ctx.candidates = [hit.niche for hit in found.candidates]


async def attach_analytics(
    reply: Reply, ctx: TurnContext, text: str, funnel: FunnelState, texts: VisitorTexts
) -> Reply:
    await _resolve(ctx, reply, text, funnel)
    niche = ctx.analytics.niche if ctx.analytics else None
    base: dict[str, Any] = {"sources": [], "dashboard": None}
    if not ctx.caller.has_access:
        subject = f" по нише «{niche}»" if niche else ""
        if ctx.caller.is_authenticated:
            status = texts.access_sentence(ctx.caller.access, ctx.caller.access_until)
            return reply.model_copy(
                update=base
                | {
                    "action": "need_subscription",
                    "reply": f"Аналитика{subject} доступна с активной подпиской. {status}",
                    "fields": {
                        "niche": niche,
                        "action": "need_subscription",
                        "access": ctx.caller.access,
                        "access_until": texts.date(ctx.caller.access_until) if ctx.caller.access_until else None,
                    },
                }
            )
        return reply.model_copy(
            update=base
            | {
                "action": "need_registration",
                "reply": f"Аналитика{subject} доступна после бесплатной регистрации — это минута, и {texts.trial} "
                "доступа бесплатно. Зарегистрируемся? Напишите «да» или ваш e-mail. Уже есть аккаунт — напишите «войти».",
                "fields": {"niche": niche, "action": "need_registration"},
            }
        )
    if ctx.analytics is not None and ctx.analytics.table is not None and niche:
        dashboard = Dashboard(niche=niche, table=ctx.analytics.table)
        fields = dict(reply.fields) | {"niche": niche, "action": "show_analytics"}
        fields.pop("candidates", None)
        return reply.model_copy(
            update={"action": "show_analytics", "fields": fields, "dashboard": dashboard, "sources": []}
        )
    if ctx.candidates:
        listing = ", ".join(f"«{c}»" for c in ctx.candidates[:5])
        text_reply = reply.reply if reply.action == "choose_niche" else f"Уточните, какая ниша вам ближе: {listing}?"
        return reply.model_copy(
            update=base
            | {
                "action": "choose_niche",
                "reply": text_reply,
                "fields": {"candidates": ctx.candidates[:25], "action": "choose_niche"},
            }
        )
    return reply.model_copy(
        update=base
        | {
            "action": "ask_niche",
            "reply": "Не нашёл такую нишу в нашей базе. Опишите, чем занимается ваш бизнес, — подберу ближайшую.",
            "fields": {"action": "ask_niche"},
        }
    )
