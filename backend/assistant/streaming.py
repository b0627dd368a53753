"""Pulls the user-visible ``reply`` text out of a JSON answer while it is still streaming."""

from __future__ import annotations

import json
import re

_SCENARIO = re.compile(r'"scenario"\s*:\s*"([A-Za-z]+)"')
_REPLY_START = re.compile(r'"reply"\s*:\s*"')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class ReplyStreamExtractor:
    """Feed raw model chunks; get back the decoded characters of ``reply`` as they complete.

    Text is released only for scenarios whose reply the server keeps as the model wrote it
    (``live_scenarios``); otherwise nothing is released and the caller streams the final reply.
    """

    def __init__(self, live_scenarios: frozenset[str]) -> None:
        self._live = live_scenarios
        self._buffer = ""
        self._pos: int | None = None  # index in buffer of the next undecoded reply character
        self._done = False
        self._scenario: str | None = None
        self.emitted = ""

    def feed(self, chunk: str) -> str:
        self._buffer += chunk
        if self._scenario is None and (match := _SCENARIO.search(self._buffer)):
            self._scenario = match.group(1).upper()
        if self._pos is None:
            match = _REPLY_START.search(self._buffer)
            if match is None:
                return ""
            self._pos = match.end()
        if self._done or self._scenario not in self._live:
            return ""
        out: list[str] = []
        buffer, i = self._buffer, self._pos
        while i < len(buffer):
            char = buffer[i]
            if char == '"':
                self._done = True
                break
            if char != "\\":
                out.append(char)
                i += 1
                continue
            if i + 1 >= len(buffer):
                break
            escape = buffer[i + 1]
            if escape == "u":
                if i + 6 > len(buffer):
                    break
                out.append(json.loads(f'"{buffer[i : i + 6]}"'))
                i += 6
            else:
                out.append(_ESCAPES.get(escape, escape))
                i += 2
        self._pos = i
        text = "".join(out)
        self.emitted += text
        return text


def chunk_text(text: str, size: int = 24) -> list[str]:
    """Split a finished reply into word-aligned chunks for streaming."""
    chunks: list[str] = []
    current = ""
    for word in re.split(r"(\s+)", text):
        if current and len(current) + len(word) > size:
            chunks.append(current)
            current = ""
        current += word
    if current:
        chunks.append(current)
    return chunks
