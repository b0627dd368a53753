"""The load benchmark's baseline: ``chat_load.baseline_app`` (per turn one Redis GET and the same two
inserts as a chat turn, each in its own transaction) plus the same minimal work as Server-Sent Events
(``POST /ai/chat/stream``: one ``delta`` after the first insert, then one ``message``; with a
configured model, the deltas of the same streamed model call the product makes), so the streamed
endpoint has a floor too. Not part of the product.

``uvicorn --factory scripts.bench._baseline:app --workers 2`` behind nginx at ``/bench-baseline/``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from backend.assistant.providers.base import TextDelta
from backend.chat import repository
from scripts.bench.chat_load import BASELINE_REPLY, baseline_app, model_messages


def app() -> FastAPI:
    application = baseline_app()

    @application.post("/ai/chat/stream", response_model=None)
    async def chat_stream(request: Request) -> EventSourceResponse | JSONResponse:
        body = await request.json()
        raw = await application.state.redis.get(f"bench:session:{request.cookies.get('sessionid')}")
        if not raw:
            return JSONResponse({"error_code": "NO_SESSION", "detail": "call /start"}, status_code=401)
        session_id = uuid.UUID(json.loads(raw)["chat_session_id"])

        async def events() -> AsyncIterator[ServerSentEvent]:
            async with application.state.db_factory() as db, db.begin():
                await repository.add_message(db, session_id=session_id, user_id=None, role="user", text=body["message"])
            model = application.state.model
            if model is None:
                yield ServerSentEvent(
                    data=json.dumps({"text": BASELINE_REPLY["reply"]}, ensure_ascii=False), event="delta"
                )
            else:
                async for event in model.stream(model_messages(body["message"]), []):
                    if isinstance(event, TextDelta):
                        yield ServerSentEvent(data=json.dumps({"text": event.text}, ensure_ascii=False), event="delta")
            async with application.state.db_factory() as db, db.begin():
                await repository.add_message(
                    db,
                    session_id=session_id,
                    user_id=None,
                    role="assistant",
                    text=str(BASELINE_REPLY["reply"]),
                    scenario="FAQ",
                    meta={"provider": "baseline", "latency_ms": 0.0},
                )
            yield ServerSentEvent(data=json.dumps(BASELINE_REPLY, ensure_ascii=False), event="message")

        return EventSourceResponse(events(), headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"})

    return application
