"""SSE framing on the offline model, and a client disconnect cancelling the model call."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import uvicorn
from openai_standin import OpenAIStandIn, text

from backend.core.config import Settings
from backend.main import create_app
from helpers import derive_settings, read_events, stored_messages


async def test_offline_stream_is_deltas_then_one_message(client: httpx.AsyncClient) -> None:
    async with client.stream("POST", "/ai/chat/stream", json={"message": "Как вернуть деньги?"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = await read_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "message" and kinds.count("message") == 1
    assert kinds[:-1] == ["delta"] * (len(kinds) - 1) and len(kinds) >= 3  # the offline model streams in chunks
    reply = json.loads(events[-1][1])
    assert reply["scenario"] == "FAQ" and reply["sources"]
    assert "".join(json.loads(data)["text"] for kind, data in events if kind == "delta") == reply["reply"]


async def test_stream_rejects_bad_input_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.post("/ai/chat/stream", json={"message": ""})
    assert response.status_code == 422
    assert response.json()["error_code"] == "VALIDATION_ERROR" and response.json()["detail"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_client_disconnect_cancels_the_model_call(
    settings: Settings, tmp_path: Path, fresh_standin: OpenAIStandIn
) -> None:
    """Over a real socket: hang up after the first delta; the upstream model stream must be dropped."""
    reply = "Здравствуйте! " + "Расскажу про заявки для вашего бизнеса подробно. " * 6
    fresh_standin.push(text({"scenario": "OFFTOPIC", "action": "answer", "reply": reply, "fields": {}}))
    fresh_standin.script[0].chunk_delay = 0.15  # ~4 s for the whole answer
    app_settings = derive_settings(
        settings, tmp_path, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fresh_standin.base_url, OPENAI_MAX_RETRIES=0
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.05)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
            http.stream("POST", "/ai/chat/stream", json={"message": "привет, как дела?"}) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("event: delta"):
                    break  # hang up mid-answer
        for _ in range(60):
            if fresh_standin.aborted_streams:
                break
            await asyncio.sleep(0.05)
        assert fresh_standin.aborted_streams == 1, "the model stream kept running after the client left"
        assert [t for _, t, _ in stored_messages(app_settings, "user")] == [
            "привет, как дела?"
        ]  # nothing accepted is lost
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
