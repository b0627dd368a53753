"""A real HTTP server speaking the OpenAI chat-completions protocol (plain and streamed) and the
embeddings protocol, scripted by the test. It stands in for the third-party service we cannot reach
from here.

Embeddings are deterministic hashed bags of word prefixes (``EMBEDDING_DIM`` floats), so texts that
share words are close; ``embedding_failures`` holds HTTP statuses to answer before succeeding."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Scripted:
    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, arguments)
    status: int = 200
    delay: float = 0.0
    chunk_delay: float = 0.01  # between streamed content chunks
    drop_after_chunks: int | None = None  # streamed: hang up (no end of the body) after this many content chunks
    # Content computed from the request body when it is served (e.g. a hostile model echoing what the
    # tools returned); overrides ``content``.
    respond: Callable[[dict[str, Any]], str] | None = None


def text(payload: dict[str, Any] | str) -> Scripted:
    return Scripted(content=payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False))


def tool(name: str, **arguments: Any) -> Scripted:
    return Scripted(tool_calls=[(name, arguments)])


class OpenAIStandIn:
    def __init__(self) -> None:
        self.script: deque[Scripted] = deque()
        self.default: Scripted | None = None
        self.requests: list[dict[str, Any]] = []
        self.embedding_requests: list[dict[str, Any]] = []
        self.embedding_failures: deque[int] = deque()
        self.aborted_streams = 0  # streams whose client hung up before the end
        self.port = _free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *items: Scripted) -> None:
        self.script.extend(items)

    def reset(self) -> OpenAIStandIn:
        """Forget the script, the recorded requests and the counters (between tests)."""
        self.script.clear()
        self.default = None
        self.requests.clear()
        self.embedding_requests.clear()
        self.embedding_failures.clear()
        self.aborted_streams = 0
        return self

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        item = self.script.popleft() if self.script else self.default
        if item is None:
            return JSONResponse({"error": {"message": "script exhausted", "type": "server_error"}}, status_code=500)
        if item.delay:
            await asyncio.sleep(item.delay)
        if item.status != 200:
            return JSONResponse(
                {"error": {"message": f"scripted {item.status}", "type": "rate_limit" if item.status == 429 else "x"}},
                status_code=item.status,
                headers={"retry-after-ms": "10"},
            )
        content = item.respond(body) if item.respond is not None else item.content
        calls = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": n, "arguments": json.dumps(a, ensure_ascii=False)},
            }
            for i, (n, a) in enumerate(item.tool_calls)
        ]
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        base = {"id": "chatcmpl-standin", "created": int(time.time()), "model": body.get("model", "m")}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                message["tool_calls"] = calls
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
            return JSONResponse(base | {"object": "chat.completion", "choices": [choice], "usage": usage})

        async def events() -> Any:
            def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
                payload = base | {
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

            finished = False
            try:
                yield chunk({"role": "assistant"})
                if content:
                    for number, start in enumerate(range(0, len(content), 12)):
                        if item.drop_after_chunks is not None and number >= item.drop_after_chunks:
                            raise ConnectionAbortedError("scripted: the model server went away mid-answer")
                        yield chunk({"content": content[start : start + 12]})
                        await asyncio.sleep(item.chunk_delay)
                finished = True
            finally:
                if not finished:
                    self.aborted_streams += 1
            for i, call in enumerate(calls):
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": call["function"]["arguments"]}}]})
            yield chunk({}, "tool_calls" if calls else "stop")
            yield f"data: {json.dumps(base | {'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.embedding_requests.append(body)
        if self.embedding_failures:
            status = self.embedding_failures.popleft()
            return JSONResponse(
                {"error": {"message": f"scripted {status}", "type": "rate_limit" if status == 429 else "server_error"}},
                status_code=status,
                headers={"retry-after-ms": "10"},
            )
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if len(texts) > 2048:
            return JSONResponse({"error": {"message": "too many inputs", "type": "invalid_request"}}, status_code=400)
        data = [{"object": "embedding", "index": i, "embedding": hashed_embedding(t)} for i, t in enumerate(texts)]
        usage = {
            "prompt_tokens": sum(len(t.split()) for t in texts),
            "total_tokens": sum(len(t.split()) for t in texts),
        }
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", "m"), "usage": usage})

    def start(self) -> OpenAIStandIn:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


EMBEDDING_DIM = 64


def hashed_embedding(text: str) -> list[float]:
    """A deterministic vector: each word's first five letters hashed into one of the dimensions."""
    vector = [0.0] * EMBEDDING_DIM
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word[:5].encode("utf-8")).digest()
        vector[digest[0] % EMBEDDING_DIM] += 1.0 if digest[1] % 2 else 0.5
    if not any(vector):
        vector[0] = 1.0
    return vector
