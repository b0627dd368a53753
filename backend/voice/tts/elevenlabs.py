"""ElevenLabs through its SDK, with a primary and a fallback voice.

If the primary voice fails for any reason, the same text is tried once with the fallback voice (as
the original system did). Only when both fail does the error reach the task, which retries transient
ones with backoff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from backend.voice.exceptions import (
    PermanentProviderError,
    ProviderError,
    ProviderNotConfigured,
    TransientProviderError,
    provider_error_for_status,
)

OUTPUT_FORMAT = "mp3_44100_128"


class ElevenLabsSynthesizer:
    name = "elevenlabs"

    def __init__(
        self,
        *,
        api_key: str,
        voice_id: str,
        fallback_voice_id: str = "",
        model: str = "eleven_multilingual_v2",
        base_url: str = "",
        timeout: float = 60.0,
        client: Any = None,
    ) -> None:
        if not api_key or not voice_id:
            raise ProviderNotConfigured("TTS_PROVIDER=elevenlabs требует ELEVENLABS_API_KEY и ELEVENLABS_VOICE_ID.")
        if client is None:
            from elevenlabs.client import ElevenLabs  # imported here: the SDK is only needed for this provider

            client = ElevenLabs(api_key=api_key, base_url=base_url or None, timeout=timeout)
        self._client = client
        self.voice_id = voice_id
        self.fallback_voice_id = fallback_voice_id
        self.model = model
        self.used_voice: str | None = None

    def _convert(self, voice_id: str, text: str) -> bytes:
        from elevenlabs.core.api_error import ApiError

        try:
            chunks = self._client.text_to_speech.convert(
                voice_id, text=text, model_id=self.model, output_format=OUTPUT_FORMAT
            )
            data = b"".join(chunks)
        except ApiError as exc:
            raise provider_error_for_status(exc.status_code, f"ElevenLabs ответил HTTP {exc.status_code}.") from exc
        except httpx.TransportError as exc:
            raise TransientProviderError(f"ElevenLabs недоступен: {type(exc).__name__}.") from exc
        if not data:
            raise PermanentProviderError("ElevenLabs вернул пустой звук.")
        return data

    def synthesize(self, text: str, workdir: Path) -> Path:
        target = workdir / "elevenlabs.mp3"
        try:
            data = self._convert(self.voice_id, text)
            self.used_voice = self.voice_id
        except ProviderError:
            if not self.fallback_voice_id or self.fallback_voice_id == self.voice_id:
                raise
            data = self._convert(self.fallback_voice_id, text)
            self.used_voice = self.fallback_voice_id
        target.write_bytes(data)
        return target
