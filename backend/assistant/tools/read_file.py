"""``read_file``: serves only the scenario prompt files, from a small mtime-checked cache."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from backend.assistant.context import TurnContext
from backend.assistant.tools.base import Tool

ALLOWED_FILES = ("scenario_faq.md", "scenario_analytics.md", "scenario_registration.md", "scenario_offtopic.md")


class PromptFileCache:
    """At most ``max_entries`` files, each kept ``ttl`` seconds and re-read when its mtime changes."""

    def __init__(
        self,
        directory: Path,
        max_entries: int = 6,
        ttl: float = 2 * 3600,
        render: Callable[[str], str] | None = None,
    ) -> None:
        self.directory = directory.resolve()
        self._render = render or (lambda text: text)  # fills in settings placeholders (VisitorTexts)
        self.max_entries = max_entries
        self.ttl = ttl
        self._entries: OrderedDict[str, tuple[float, float, str]] = OrderedDict()  # name -> (mtime, at, text)

    def resolve(self, requested: str) -> Path | None:
        """The allowlisted file meant by ``requested``, or None. Never leaves ``directory``."""
        name = Path(requested.strip()).name
        if name not in ALLOWED_FILES or requested.strip() not in (name, f"scenario/{name}"):
            return None
        path = self.directory / name
        try:
            real = path.resolve(strict=True)
        except OSError:
            return None
        return real if real.parent == self.directory and not path.is_symlink() else None

    def read(self, requested: str) -> str | None:
        path = self.resolve(requested)
        if path is None:
            return None
        mtime = path.stat().st_mtime
        now = time.monotonic()
        cached = self._entries.get(path.name)
        if cached and cached[0] == mtime and now - cached[1] < self.ttl:
            self._entries.move_to_end(path.name)
            return cached[2]
        text = self._render(path.read_text(encoding="utf-8"))
        self._entries[path.name] = (mtime, now, text)
        self._entries.move_to_end(path.name)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return text

    def __len__(self) -> int:
        return len(self._entries)


class ReadFileArgs(BaseModel):
    path: str = Field(max_length=200, description="One of: " + ", ".join(f"scenario/{n}" for n in ALLOWED_FILES))


class ReadFileTool(Tool):
    name = "read_file"
    description = "Read a scenario instruction file (only the allowlisted scenario/*.md files)."
    Args: ClassVar[type[BaseModel]] = ReadFileArgs

    def __init__(self, cache: PromptFileCache) -> None:
        self.cache = cache

    async def run(self, args: Any, ctx: TurnContext) -> dict[str, Any]:
        text = self.cache.read(args.path)
        if text is None:
            return {"error": "access denied: only scenario/*.md instruction files can be read"}
        return {"path": args.path, "content": text}
