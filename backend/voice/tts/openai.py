"""Any OpenAI-compatible ``/v1/audio/speech`` endpoint. The SDK's own retries are off (the task decides)."""

from __future__ import annotations

from pathlib import Path

import openai
from openai import OpenAI

from backend.voice.exceptions import PermanentProviderError, TransientProviderError, provider_error_for_status


class OpenAISynthesizer:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None, model: str, voice: str, timeout: float) -> None:
        self.model = model
        self.voice = voice
        self._client = OpenAI(
            api_key=api_key or "not-needed", base_url=base_url or None, timeout=timeout, max_retries=0
        )

    def synthesize(self, text: str, workdir: Path) -> Path:
        target = workdir / "openai.wav"
        try:
            response = self._client.audio.speech.create(
                model=self.model, voice=self.voice, input=text, response_format="wav"
            )
            data = response.read()
        except openai.APIStatusError as exc:
            raise provider_error_for_status(
                exc.status_code, f"Сервис синтеза речи ответил HTTP {exc.status_code}."
            ) from exc
        except openai.APIConnectionError as exc:
            raise TransientProviderError(f"Сервис синтеза речи недоступен: {type(exc).__name__}.") from exc
        except openai.OpenAIError as exc:
            raise PermanentProviderError(f"Сервис синтеза речи вернул непонятный ответ: {exc}") from exc
        if not data:
            raise PermanentProviderError("Сервис синтеза речи вернул пустой звук.")
        target.write_bytes(data)
        return target
