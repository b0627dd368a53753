"""Tools as small classes: a name, a description, pydantic args (their JSON schema is what the
model sees) and ``async run(args, ctx)``. The registry validates calls and enforces the rule that
one turn touches at most one knowledge collection."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ValidationError

from backend.assistant.context import TurnContext

logger = logging.getLogger(__name__)

Collection = Literal["faq", "analytics"]


class Tool(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    collection: ClassVar[Collection | None] = None

    @abstractmethod
    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]: ...

    @classmethod
    def schema(cls) -> dict[str, Any]:
        parameters = cls.Args.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {"name": cls.name, "description": cls.description, "parameters": parameters},
        }


@dataclass
class ToolOutcome:
    name: str
    arguments: dict[str, Any]
    ok: bool
    result: dict[str, Any]
    refused: bool = False


@dataclass
class ToolRegistry:
    tools: dict[str, Tool] = field(default_factory=dict)
    _schemas: list[dict[str, Any]] | None = field(default=None, repr=False)

    def add(self, tool: Tool) -> None:
        self.tools[tool.name] = tool
        self._schemas = None

    def schemas(self) -> list[dict[str, Any]]:
        # Built once: generating pydantic JSON schemas cost ~4 ms per loop round on the hot path.
        if self._schemas is None:
            self._schemas = [tool.schema() for tool in self.tools.values()]
        return list(self._schemas)

    async def call(self, name: str, arguments: str, ctx: TurnContext) -> ToolOutcome:
        tool = self.tools.get(name)
        if tool is None:
            return ToolOutcome(name, {}, False, {"error": f"unknown tool {name!r}"}, refused=True)
        try:
            raw = json.loads(arguments or "{}")
            args = tool.Args.model_validate(raw)
        except (json.JSONDecodeError, ValidationError) as exc:
            return ToolOutcome(name, {}, False, {"error": f"invalid arguments: {str(exc)[:300]}"})
        if tool.collection is not None:
            if ctx.collection not in (None, tool.collection):
                logger.warning("second collection refused", extra={"tool": name, "collection": ctx.collection})
                return ToolOutcome(
                    name,
                    args.model_dump(),
                    False,
                    {"error": f"refused: this turn already uses the {ctx.collection} collection"},
                    refused=True,
                )
            ctx.collection = tool.collection
        try:
            result = await tool.run(args, ctx)
        except Exception as exc:  # a failing tool is reported to the model, the turn goes on
            logger.exception("tool failed", extra={"tool": name})
            return ToolOutcome(name, args.model_dump(), False, {"error": f"tool failed: {type(exc).__name__}"})
        return ToolOutcome(name, args.model_dump(), True, result)
