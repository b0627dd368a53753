"""The offline model: deterministic, no network, same tool-calling protocol as a real model.

It reads the conversation the loop builds (system context, user message, tool results), decides
the scenario with ``OfflineRouter``, calls the same tools, and answers with the JSON contract.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from backend.assistant.offline import composer
from backend.assistant.offline.cues import read_cues
from backend.assistant.offline.niche_probe import NicheProbe
from backend.assistant.offline.router import OfflineRouter, Route
from backend.assistant.providers.base import Message, ModelResponse, StreamEvent, TextDelta, ToolCall
from backend.assistant.streaming import chunk_text
from backend.assistant.texts import VisitorTexts

CONTEXT_PREFIX = "Контекст сессии (служебно): "
ELLIPTIC_WORDS = 4  # a question this short after an FAQ answer is searched with the one it continues


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


class OfflineChatModel:
    provider = "offline"
    model = "offline-router-v1"
    remote = False

    def __init__(self, router: OfflineRouter, niche_probe: NicheProbe, texts: VisitorTexts | None = None) -> None:
        self.router = router
        self.niche_probe = niche_probe
        self._texts = texts or VisitorTexts()

    async def aclose(self) -> None:
        """Nothing to release: the router and the probe belong to the knowledge base."""

    @staticmethod
    def _read(messages: list[Message]) -> tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        context: dict[str, Any] = {}
        for message in messages:
            content = message.get("content") or ""
            if message["role"] == "system" and content.startswith(CONTEXT_PREFIX):
                context = json.loads(content[len(CONTEXT_PREFIX) :])
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        names: dict[str, str] = {}
        results: list[tuple[str, dict[str, Any]]] = []
        for message in messages[last_user + 1 :]:
            for call in message.get("tool_calls") or []:
                names[call["id"]] = call["function"]["name"]
            if message["role"] == "tool":
                results.append((names.get(message["tool_call_id"], ""), json.loads(message["content"])))
        return str(messages[last_user]["content"]), context, results

    async def complete(self, messages: list[Message], tools: list[dict[str, Any]]) -> ModelResponse:
        text, context, results = self._read(messages)
        if not results:
            return await self._first_step(text, context, messages)
        name, result = results[-1]
        if name == "faq_search":
            shown = [str(a) for a in result.get("sources") or []]
            if not result.get("answerable") or not shown:
                return _final("FAQ", "no_answer", composer.faq_not_found(self._texts))
            return _calls([("faq_get_by_id", {"article_id": article_id}) for article_id in shown])
        if name == "faq_get_by_id":
            articles = [r for n, r in results if n == "faq_get_by_id" and not r.get("error")]
            if not articles:
                return _final("FAQ", "no_answer", composer.faq_not_found(self._texts))
            sources = [{"article_id": str(a.get("article_id")), "title": a.get("title", "")} for a in articles]
            said = "\n".join(_earlier(messages, "assistant"))
            repair = _repair(text, context)
            if self._more_of_current(text, context, articles):
                reply = composer.faq_more(articles[0], said)
            elif repair == "unclear":
                reply = composer.faq_plainer(articles[0], said, self._texts)
            elif repair == "missed":
                reply = composer.faq_answer_again(articles, _searched_query(messages) or text)
            else:
                reply = composer.faq_answer(articles, _searched_query(messages) or text)
            return _final("FAQ", "answer", reply, sources=sources)
        if name == "analytics_get_by_niche":
            if result.get("niche"):
                reply = composer.analytics_answer(result["niche"], str(result.get("analytics", "")))
                return _final("ANALYTICS", "show_analytics", reply, fields={"niche": result["niche"]})
            candidates = list(result.get("candidates") or [])
            if candidates:
                return _final(
                    "ANALYTICS", "choose_niche", composer.choose_niche(candidates), {"candidates": candidates}
                )
            return _final("ANALYTICS", "ask_niche", "Не нашёл такую нишу. Опишите, чем занимается ваш бизнес?")
        return self._offtopic(text, messages)

    @staticmethod
    def _more_of_current(text: str, context: dict[str, Any], articles: list[dict[str, Any]]) -> bool:
        """The visitor asked for more of the article they were just shown («подробнее»)."""
        current = context.get("current_article_id")
        return (
            len(articles) == 1
            and current is not None
            and str(articles[0].get("article_id")) == str(current)
            and read_cues(text).follow_up
        )

    @staticmethod
    def _leans_on_previous(route: Route, text: str, context: dict[str, Any]) -> bool:
        """A short message right after an FAQ answer that the classifier read as FAQ, or as small talk
        although it is a question («а для ип?»; «понял» stays small talk)."""
        after_answer = context.get("last_scenario") == "FAQ" and bool(context.get("current_article_id"))
        if not after_answer or route.reason != "classified":
            return False
        cues = read_cues(text)
        return (
            (route.scenario == "FAQ" or (route.scenario == "OFFTOPIC" and cues.question))
            and route.niche is None
            and cues.words <= ELLIPTIC_WORDS
            and not (cues.smalltalk or cues.bot_address)
        )

    def _offtopic(self, text: str, messages: list[Message]) -> ModelResponse:
        """Small talk; never the same words as the session's previous reply."""
        earlier = _earlier(messages, "assistant")
        turn = len(_earlier(messages, "user"))
        reply = composer.offtopic(text, self._texts, earlier[-1] if earlier else "", turn)
        return _final("OFFTOPIC", "answer", reply)

    async def route(self, text: str, context: dict[str, Any]) -> Route:
        """The scenario decision alone (used by the first step and by ``scripts/eval/routing_eval``)."""
        return await self.router.route(text, context, self.niche_probe)

    async def _first_step(self, text: str, context: dict[str, Any], messages: list[Message]) -> ModelResponse:
        repair = _repair(text, context)
        current = str(context.get("current_article_id") or "")
        if repair == "missed":
            # «это не то» right after an answer: the question again, without the article that missed it;
            # a second miss on the same question, or one after «no answer», goes to people rather than
            # guessing further (the search can leave out one article only).
            question, missed_before = _continued_question(messages)
            if not (question and current) or missed_before:
                return _final("FAQ", "no_answer", composer.faq_not_found(self._texts))
            return _call("faq_search", {"query": question[:500], "last_article_id": current})
        if repair == "unclear":
            return _call("faq_get_by_id", {"article_id": current})  # «не понял»: the same article, plainer
        route = await self.route(text, context)
        if self._leans_on_previous(route, text, context):
            # «а для ип?» right after an answer asks about that answer's subject: searched together with
            # the question it continues, and answered as any FAQ question (or «no answer»).
            return _call("faq_search", {"query": f"{_continued_question(messages)[0]} {text}".strip()[:500]})
        if route.scenario == "FAQ":
            article = context.get("current_article_id")
            if article and route.reason.startswith("follow-up"):
                return _call("faq_get_by_id", {"article_id": str(article)})
            return _call("faq_search", {"query": text[:500]})
        if route.scenario == "ANALYTICS":
            if route.reason == "accepted the analytics offer":
                niche = context.get("funnel_niche")
            else:  # the canonical title the probe found resolves exactly, without a second fuzzy search
                niche = route.niche or text
            return _call("analytics_get_by_niche", {"niche": str(niche)[:300]})
        if route.scenario == "REGISTRATION":
            return _final("REGISTRATION", "continue", "…")
        return self._offtopic(text, messages)

    async def stream(self, messages: list[Message], tools: list[dict[str, Any]]) -> AsyncIterator[StreamEvent]:
        response = await self.complete(messages, tools)
        if response.content and not response.tool_calls:
            for chunk in chunk_text(response.content, 32):
                yield TextDelta(chunk)
        yield response


def _searched_query(messages: list[Message]) -> str | None:
    """The query this turn's FAQ search was called with, if it made one."""
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    for message in messages[last_user + 1 :]:
        for call in message.get("tool_calls") or []:
            if call["function"]["name"] == "faq_search":
                return str(json.loads(call["function"]["arguments"]).get("query") or "") or None
    return None


def _repair(text: str, context: dict[str, Any]) -> str | None:
    """Right after an FAQ answer: «missed» when the visitor says it missed their question, «unclear» when
    they did not understand it (only while an article is current); otherwise None."""
    if context.get("last_scenario") != "FAQ":
        return None
    cues = read_cues(text)
    if cues.missed:
        return "missed"
    return "unclear" if cues.unclear and context.get("current_article_id") else None


def _continued_question(messages: list[Message]) -> tuple[str, bool]:
    """The visitor's latest earlier message that says what they ask about, and whether they said «это не
    то» about it since. A bare request for more («подробнее»), a bare «это не то» or «не понял» carries no
    subject of its own, so the question before it is the one continued."""
    missed = False
    for earlier in reversed(_earlier(messages, "user")):
        cues = read_cues(earlier)
        if not (cues.follow_up or cues.missed or cues.unclear):
            return earlier, missed
        missed = missed or cues.missed
    return "", missed


def _earlier(messages: list[Message], role: str) -> list[str]:
    """The conversation's messages of ``role`` before the visitor's current one, oldest first."""
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [str(m.get("content") or "") for m in messages[:last_user] if m["role"] == role]


def _call(name: str, arguments: dict[str, Any]) -> ModelResponse:
    return _calls([(name, arguments)])


def _calls(calls: list[tuple[str, dict[str, Any]]]) -> ModelResponse:
    return ModelResponse(
        content=None,
        tool_calls=[
            ToolCall(id=f"offline_{name}_{n}", name=name, arguments=_json(arguments))
            for n, (name, arguments) in enumerate(calls)
        ],
    )


def _final(
    scenario: str,
    action: str,
    reply: str,
    fields: dict[str, Any] | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> ModelResponse:
    payload: dict[str, Any] = {"scenario": scenario, "action": action, "reply": reply, "fields": fields or {}}
    if sources:
        payload["sources"] = sources
    return ModelResponse(content=_json(payload))
