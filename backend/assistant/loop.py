"""The tool-calling loop (the seed's ``ask_openai``): up to 5 tool rounds, then one JSON answer,
validated strictly, repaired once, or reported as failed so the engine can fall back."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from backend.assistant.context import TurnContext
from backend.assistant.contract import Reply, coerce_reply
from backend.assistant.providers.base import ChatModel, Message, ModelResponse, TextDelta, Usage
from backend.assistant.streaming import ReplyStreamExtractor
from backend.assistant.tools.base import ToolRegistry

logger = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 5
LIVE_STREAM_SCENARIOS = frozenset({"FAQ", "OFFTOPIC"})
REPAIR_PROMPT = (
    "Твой ответ не прошёл проверку: {error}. Верни ТОЛЬКО один JSON-объект с ключами "
    '"scenario" (FAQ|ANALYTICS|REGISTRATION|OFFTOPIC), "action", "reply", "fields", без текста вокруг.'
)

DeltaSink = Callable[[str], Awaitable[None]]


class StreamSink(Protocol):
    """Where a streamed turn's text goes: ``delta`` appends a chunk; ``reset`` drops the text sent so
    far because the server replaces it (SPEC section 3 stream events)."""

    async def delta(self, text: str) -> None: ...

    async def reset(self) -> None: ...


@dataclass
class LoopResult:
    reply: Reply | None
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    repaired: bool = False
    error: str | None = None
    streamed: str = ""


def parse_answer(content: str | None) -> tuple[Reply | None, str | None]:
    if not content:
        return None, "empty answer"
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None, "no JSON object"
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg})"
    if not isinstance(data, dict):
        return None, "not an object"
    try:
        return coerce_reply(data), None
    except (ValidationError, ValueError, TypeError) as exc:
        return None, f"contract violation ({str(exc).splitlines()[0][:200]})"


async def _call(
    model: ChatModel,
    messages: list[Message],
    tools: list[dict[str, Any]],
    sink: DeltaSink | None,
    extractor: ReplyStreamExtractor | None,
) -> ModelResponse:
    if sink is None or extractor is None:
        return await model.complete(messages, tools)
    final: ModelResponse | None = None  # the time in sink() is a slow reader's: also not our work
    async for event in model.stream(messages, tools):
        if isinstance(event, TextDelta):
            text = extractor.feed(event.text)
            if text:
                await sink(text)
        else:
            final = event
    assert final is not None, "a stream must end with a ModelResponse"
    return final


async def run_loop(
    model: ChatModel,
    messages: list[Message],
    registry: ToolRegistry,
    ctx: TurnContext,
    sink: DeltaSink | None = None,
) -> LoopResult:
    """Raises ``ModelError`` when the provider fails; returns ``reply=None`` when the JSON stayed invalid."""
    result = LoopResult(reply=None)
    extractor: ReplyStreamExtractor | None = None
    for round_no in range(MAX_TOOL_ROUNDS + 1):
        tools = registry.schemas() if round_no < MAX_TOOL_ROUNDS else []
        # Once a turn has touched analytics nothing is streamed live: the reply first passes the
        # paywall in post-processing, and only then is it streamed.
        live = frozenset() if ctx.collection == "analytics" else LIVE_STREAM_SCENARIOS
        extractor = ReplyStreamExtractor(live) if sink else None
        started = time.perf_counter()
        try:
            response = await _call(model, messages, tools, sink, extractor)
        finally:
            ctx.model_wait += (time.perf_counter() - started) if model.remote else 0.0
        result.usage.add(response.usage)
        if response.tool_calls and round_no < MAX_TOOL_ROUNDS:
            messages.append(
                {
                    "role": "assistant",
                    "content": response.content,
                    "tool_calls": [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in response.tool_calls
                    ],
                }
            )
            for call in response.tool_calls:
                outcome = await registry.call(call.name, call.arguments, ctx)
                result.tool_calls.append(
                    {"name": outcome.name, "arguments": outcome.arguments, "ok": outcome.ok, "refused": outcome.refused}
                )
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": json.dumps(outcome.result, ensure_ascii=False, default=str),
                    }
                )
            continue
        reply, error = parse_answer(response.content)
        result.streamed = extractor.emitted if extractor else ""
        if reply is not None:
            result.reply = reply
            return result
        logger.warning("invalid model answer, asking for a repair", extra={"reason": error})
        messages.append({"role": "assistant", "content": response.content or ""})
        messages.append({"role": "user", "content": REPAIR_PROMPT.format(error=error)})
        started = time.perf_counter()
        try:
            repaired = await model.complete(messages, [])
        finally:
            ctx.model_wait += (time.perf_counter() - started) if model.remote else 0.0
        result.usage.add(repaired.usage)
        reply, error = parse_answer(repaired.content)
        result.reply, result.repaired, result.error = reply, reply is not None, error
        return result
    return result
