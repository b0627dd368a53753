"""Any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, llama.cpp, LocalAI).

Retries with exponential backoff on 429, 5xx, timeouts and connection errors are the SDK's own
(``max_retries``); whatever still fails becomes ``ModelError`` and the engine falls back. The SDK
sends over its aiohttp transport (``DefaultAioHttpClient``, the ``aiohttp`` extra) rather than its
default httpx2 pool, whose per-request connection scan cost 1.5-3 ms of CPU per call with hundreds of
calls in flight against 0.8-1.4 ms (BENCHMARKS.md, "Turn cost").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI, DefaultAioHttpClient

from backend.assistant.providers.base import Message, ModelError, ModelResponse, StreamEvent, TextDelta, ToolCall, Usage


class OpenAIChatModel:
    provider = "openai"
    remote = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        temperature: float = 0.3,
        timeout: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self._temperature = temperature
        self._client = AsyncOpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url or None,
            timeout=timeout,
            max_retries=max_retries,
            http_client=DefaultAioHttpClient(timeout=timeout),
        )

    async def aclose(self) -> None:
        await self._client.close()

    def _request(self, messages: list[Message], tools: list[dict[str, Any]]) -> dict[str, Any]:
        """``create()``'s arguments. The messages and tool schemas are our own dicts, already in the wire
        format: sent as ``extra_body`` (which the SDK merges into the JSON over its own fields) they skip
        the SDK's type-driven transform of the request, about 2.5 of the 3 ms of CPU a call cost
        (BENCHMARKS.md, "Turn cost"). The request sent is the same JSON."""
        body: dict[str, Any] = {"messages": messages, "temperature": self._temperature}
        if tools:
            body |= {"tools": tools, "tool_choice": "auto"}
        return {"model": self.model, "messages": [], "extra_body": body}

    async def complete(self, messages: list[Message], tools: list[dict[str, Any]]) -> ModelResponse:
        try:
            completion = await self._client.chat.completions.create(**self._request(messages, tools))
        except openai.OpenAIError as exc:
            raise ModelError(f"{type(exc).__name__}: {exc}") from exc
        if not completion.choices:
            raise ModelError("empty completion")
        message = completion.choices[0].message
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
            for call in message.tool_calls or []
            if call.type == "function"
        ]
        usage = completion.usage
        return ModelResponse(
            content=message.content,
            tool_calls=calls,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
        )

    async def stream(self, messages: list[Message], tools: list[dict[str, Any]]) -> AsyncIterator[StreamEvent]:
        request = self._request(messages, tools) | {"stream": True, "stream_options": {"include_usage": True}}
        content: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage = Usage()
        try:
            stream = await self._client.chat.completions.create(**request)
            async for chunk in stream:
                if chunk.usage:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    content.append(delta.content)
                    yield TextDelta(delta.content)
                for call in delta.tool_calls or []:
                    slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = call.id or slot["id"]
                    if call.function is not None:
                        slot["name"] += call.function.name or ""
                        slot["arguments"] += call.function.arguments or ""
        except openai.OpenAIError as exc:
            raise ModelError(f"{type(exc).__name__}: {exc}") from exc
        yield ModelResponse(
            content="".join(content) or None,
            tool_calls=[ToolCall(s["id"] or f"call_{i}", s["name"], s["arguments"] or "{}") for i, s in calls.items()],
            usage=usage,
        )
