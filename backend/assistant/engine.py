"""One turn engine for /ai/chat, /ai/chat/stream and the Celery ``text`` task.

Input: the user's text, the session state and recent history. Output: a validated ``Reply`` plus
metadata (provider, usage, latency, tool calls, fallback flag). No FastAPI import here.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.assistant.context import Caller, TurnContext
from backend.assistant.contract import Reply, Scenario, Source
from backend.assistant.funnel import Funnel, FunnelState, looks_like_funnel_answer, wants_login
from backend.assistant.loop import DeltaSink, LoopResult, StreamSink, run_loop
from backend.assistant.ports import AccountsPort
from backend.assistant.postprocess import attach_analytics, attach_sources
from backend.assistant.providers.base import ChatModel, Message, ModelError
from backend.assistant.streaming import chunk_text
from backend.assistant.texts import VisitorTexts
from backend.assistant.tools.base import ToolRegistry

logger = logging.getLogger(__name__)


def safe_reply(texts: VisitorTexts) -> str:
    return f"Извините, я сейчас не смог подготовить ответ. Попробуйте переформулировать вопрос или {texts.write_to_support()}."


@dataclass
class TurnInput:
    text: str
    sid: str
    chat_session_id: uuid.UUID
    caller: Caller
    session_data: dict[str, Any]
    accounts: AccountsPort  # bound to the turn's unit of work: a failed turn leaves no account behind
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text), oldest first


@dataclass
class TurnOutput:
    reply: Reply
    meta: dict[str, Any]
    login_user_id: uuid.UUID | None = None


class TurnEngine:
    def __init__(
        self,
        *,
        model: ChatModel,
        offline: ChatModel,
        registry: ToolRegistry,
        funnel: Funnel,
        knowledge: Any,
        scenario_dir: Path,
        history_char_budget: int = 6000,
        texts: VisitorTexts | None = None,
    ) -> None:
        self.model = model
        self.offline = offline
        self.registry = registry
        self.funnel = funnel
        self.knowledge = knowledge
        self.texts = texts or VisitorTexts()
        self.system_prompt = self.texts.render_prompt((scenario_dir / "system.md").read_text(encoding="utf-8"))
        self.history_char_budget = history_char_budget

    async def aclose(self) -> None:
        await self.model.aclose()

    def _messages(self, turn: TurnInput, funnel: FunnelState) -> list[Message]:
        context = {
            "authenticated": turn.caller.is_authenticated,
            "analytics_access": turn.caller.has_access,
            "funnel_stage": funnel.stage,
            "funnel_has_contact": bool(funnel.contact),
            "funnel_niche": funnel.niche,
            "current_article_id": (turn.session_data.get("faq") or {}).get("article_id"),
            "last_scenario": turn.session_data.get("last_scenario"),
            "last_action": turn.session_data.get("last_action"),
        }
        messages: list[Message] = [
            {"role": "system", "content": self.system_prompt},
            {"role": "system", "content": "Контекст сессии (служебно): " + json.dumps(context, ensure_ascii=False)},
        ]
        budget, kept = self.history_char_budget, []
        for role, text in reversed(turn.history):
            budget -= len(text)
            if budget < 0:
                break
            kept.append({"role": "assistant" if role == "assistant" else "user", "content": text})
        messages.extend(reversed(kept))
        messages.append({"role": "user", "content": turn.text})
        return messages

    async def _run_model(
        self, model: ChatModel, turn: TurnInput, funnel: FunnelState, ctx: TurnContext, sink: DeltaSink | None
    ) -> LoopResult:
        return await run_loop(model, self._messages(turn, funnel), self.registry, ctx, sink)

    async def run(self, turn: TurnInput, stream: StreamSink | None = None) -> TurnOutput:
        """One turn. With ``stream``, text goes out as it is produced; whenever the final reply differs
        from what was already sent (the model failed mid-answer, the funnel took over), a ``reset``
        precedes the final text, so the deltas after the last reset always add up to ``reply.reply``."""
        started = time.perf_counter()
        sent: list[str] = []
        sink: DeltaSink | None = None
        if stream is not None:

            async def sink(text: str) -> None:
                sent.append(text)
                await stream.delta(text)

        funnel = FunnelState.load(turn.session_data)
        ctx = TurnContext(knowledge=self.knowledge, session_data=turn.session_data, caller=turn.caller)
        provider, fallback_reason = self.model, None
        # A wish to sign in is settled by the server (the login path of the funnel), without a model call.
        login = wants_login(turn.text)
        if login:
            provider, result = (
                self.offline,
                LoopResult(reply=Reply(scenario=Scenario.REGISTRATION, action="continue", reply="…")),
            )
        else:
            try:
                result = await self._run_model(self.model, turn, funnel, ctx, sink)
                if result.reply is None:
                    fallback_reason = f"invalid answer after repair: {result.error}"
            except ModelError as exc:
                fallback_reason = f"model error: {exc}"[:300]
                result = LoopResult(reply=None)
        if result.reply is None and self.model is not self.offline:
            logger.warning("falling back to the offline model", extra={"reason": fallback_reason})
            waited = ctx.model_wait
            ctx = TurnContext(knowledge=self.knowledge, session_data=turn.session_data, caller=turn.caller)
            ctx.model_wait = waited
            provider = self.offline
            result = await self._run_model(self.offline, turn, funnel, ctx, None)
        reply = result.reply or Reply(scenario=Scenario.OFFTOPIC, action="error", reply=safe_reply(self.texts))

        # The server, not the model, owns the funnel: a bare e-mail/code/city inside it is an answer.
        if login or looks_like_funnel_answer(turn.text, funnel):
            reply = reply.model_copy(update={"scenario": Scenario.REGISTRATION})
        elif ctx.collection == "analytics" and reply.scenario != Scenario.REGISTRATION:
            # A turn that touched analytics is finished (and paywalled) as ANALYTICS, whatever the model says.
            reply = reply.model_copy(update={"scenario": Scenario.ANALYTICS})
        login_user_id = None
        if reply.scenario == Scenario.REGISTRATION:
            outcome = await self.funnel.advance(
                funnel,
                turn.text,
                reply.fields,
                accounts=turn.accounts,
                sid=turn.sid,
                chat_session_id=turn.chat_session_id,
                caller=turn.caller,
                login=login,
            )
            funnel.store(turn.session_data)
            login_user_id = outcome.registered_user_id
            reply = Reply(
                scenario=Scenario.REGISTRATION,
                action=outcome.action,
                reply=outcome.reply,
                fields=outcome.fields,
                stage=outcome.stage,
            )
        elif reply.scenario == Scenario.ANALYTICS:
            reply = await attach_analytics(reply, ctx, turn.text, funnel, self.texts)
        elif reply.scenario == Scenario.FAQ:
            reply = attach_sources(reply, ctx)
        else:
            reply = reply.model_copy(update={"sources": [], "dashboard": None})

        if stream is not None:
            await _settle(stream, "".join(sent), reply.reply)
        turn.session_data["last_scenario"] = reply.scenario.value
        turn.session_data["last_action"] = reply.action
        meta = {
            "scenario": reply.scenario.value,
            "action": reply.action,
            "provider": provider.provider,
            "model": provider.model,
            "fallback": fallback_reason is not None,
            "fallback_reason": fallback_reason,
            "repaired": result.repaired,
            "tool_calls": result.tool_calls,
            "usage": {"prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens},
            "sources": [s.model_dump() for s in reply.sources],
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "model_wait_ms": round(ctx.model_wait * 1000, 1),
        }
        return TurnOutput(reply=reply, meta=meta, login_user_id=login_user_id)


async def _settle(stream: StreamSink, shown: str, final: str) -> None:
    """Make the streamed text equal to ``final``: send what is missing, or reset and send it all."""
    if shown == final:
        return
    if shown and final.startswith(shown):
        rest = final[len(shown) :]
    else:
        if shown:
            await stream.reset()
        rest = final
    for chunk in chunk_text(rest):
        await stream.delta(chunk)


__all__ = ["Source", "TurnEngine", "TurnInput", "TurnOutput"]
