"""A real HTTP server on 127.0.0.1 speaking the speech APIs we call, scripted by the tests:
OpenAI-compatible ``/v1/audio/transcriptions`` (multipart in, ``{"text"}`` out) and ``/v1/audio/speech``,
and ElevenLabs ``/v1/text-to-speech/{voice_id}``. It stands in for services we cannot reach here."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Reply:
    status: int = 200
    text: str | None = None  # transcript; None: the stand-in's default
    delay: float = 0.0


def _tone(fmt: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"tone.{fmt}"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=330:duration=1",
             "-ac", "1", "-ar", "22050", str(out)],
            check=True, timeout=30,
        )  # fmt: skip
        return out.read_bytes()


class SpeechStandIn:
    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.transcript = "Сколько стоит подключение?"
        self.transcriptions: list[dict[str, Any]] = []
        self.speech_requests: list[dict[str, Any]] = []
        self.failing_voices: dict[str, int] = {}  # ElevenLabs voice id -> HTTP status it answers
        self.port = _free_port()
        self._wav = _tone("wav")
        self._mp3 = _tone("mp3")
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.script.clear()
        self.transcriptions.clear()
        self.speech_requests.clear()
        self.failing_voices.clear()
        self.transcript = "Сколько стоит подключение?"

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def _transcriptions(self, request: Request) -> Response:
        form = await request.form()
        upload = form.get("file")
        size = len(await upload.read()) if isinstance(upload, UploadFile) else 0
        self.transcriptions.append(
            {
                "model": form.get("model"),
                "language": form.get("language"),
                "filename": upload.filename if isinstance(upload, UploadFile) else None,
                "size": size,
                "authorization": request.headers.get("authorization"),
            }
        )
        reply = self.script.popleft() if self.script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return JSONResponse({"error": {"message": f"scripted {reply.status}"}}, status_code=reply.status)
        return JSONResponse({"text": self.transcript if reply.text is None else reply.text})

    async def _speech(self, request: Request) -> Response:
        body = await request.json()
        self.speech_requests.append({"api": "openai", **body})
        reply = self.script.popleft() if self.script else Reply()
        if reply.status != 200:
            return JSONResponse({"error": {"message": f"scripted {reply.status}"}}, status_code=reply.status)
        return Response(self._wav, media_type="audio/wav")

    async def _elevenlabs(self, request: Request) -> Response:
        voice = request.path_params["voice_id"]
        body = await request.json()
        self.speech_requests.append({"api": "elevenlabs", "voice": voice, **body})
        status = self.failing_voices.get(voice)
        if status:
            return JSONResponse({"detail": {"status": "scripted", "message": "voice unavailable"}}, status_code=status)
        return Response(self._mp3, media_type="audio/mpeg")

    def start(self) -> SpeechStandIn:
        app = Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self._transcriptions, methods=["POST"]),
                Route("/v1/audio/speech", self._speech, methods=["POST"]),
                Route("/v1/text-to-speech/{voice_id}", self._elevenlabs, methods=["POST"]),
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
