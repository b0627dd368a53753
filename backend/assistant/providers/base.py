"""The model interface both providers implement: one tool-calling protocol, so one loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

Message = dict[str, Any]  # OpenAI chat-completions message shape


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass
class ModelResponse:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class TextDelta:
    text: str


StreamEvent = TextDelta | ModelResponse


class ModelError(Exception):
    """The model could not answer (after the provider's own retries): the engine falls back."""


class ChatModel(Protocol):
    provider: str
    model: str
    remote: bool  # answers over the network: time in its calls is waiting, not our work

    async def complete(self, messages: list[Message], tools: list[dict[str, Any]]) -> ModelResponse: ...

    def stream(self, messages: list[Message], tools: list[dict[str, Any]]) -> AsyncIterator[StreamEvent]:
        """Yield ``TextDelta`` for content as it arrives, then exactly one ``ModelResponse``."""
        ...

    async def aclose(self) -> None:
        """Release the connections it holds (the process is shutting down)."""
        ...
