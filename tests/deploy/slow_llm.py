"""A deliberately slow OpenAI-compatible chat-completions server for the deployment test.

The offline model produces a whole reply at once, so it cannot show whether a proxy buffers a
stream. This server answers every request with the same small-talk reply and, when streaming,
pauses between chunks: a client behind a non-buffering proxy sees the first text long before the end.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

REPLY = (
    "Я отвечаю на вопросы о заявках для бизнеса, тарифах и аналитике по нишам. "
    "Расскажите, чем занимается ваша компания, и я подскажу, с чего начать."
)
ANSWER = json.dumps({"scenario": "OFFTOPIC", "action": "answer", "reply": REPLY, "fields": {}}, ensure_ascii=False)
CHUNK_CHARS = 16
CHUNK_PAUSE_SECONDS = 0.1  # about 15 chunks: the stream lasts about 1.5 s


class SlowLLM:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        usage = {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90}
        base = {"id": "chatcmpl-slow", "created": int(time.time()), "model": body.get("model", "m")}
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
            return JSONResponse(base | {"object": "chat.completion", "choices": [choice], "usage": usage})

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps(base | {'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"

        async def events() -> Any:
            yield chunk({"role": "assistant"})
            for start in range(0, len(ANSWER), CHUNK_CHARS):
                yield chunk({"content": ANSWER[start : start + CHUNK_CHARS]})
                await asyncio.sleep(CHUNK_PAUSE_SECONDS)
            yield chunk({}, "stop")
            yield f"data: {json.dumps(base | {'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def start(self) -> SlowLLM:
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
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
