"""Any OpenAI-compatible ``/v1/audio/transcriptions`` endpoint: OpenAI whisper-1, faster-whisper-server,
LocalAI, vLLM... The SDK's own retries are off: the Celery task decides (transient errors only)."""

from __future__ import annotations

from pathlib import Path

import openai
from openai import OpenAI

from backend.voice.exceptions import PermanentProviderError, TransientProviderError, provider_error_for_status
from backend.voice.stt.base import Transcript


class OpenAITranscriber:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None, model: str, timeout: float) -> None:
        self.model = model
        self._client = OpenAI(
            api_key=api_key or "not-needed", base_url=base_url or None, timeout=timeout, max_retries=0
        )

    def transcribe(self, path: Path, language: str) -> Transcript:
        try:
            with path.open("rb") as audio:
                result = self._client.audio.transcriptions.create(
                    file=(path.name, audio), model=self.model, language=language, response_format="json"
                )
        except openai.APIStatusError as exc:
            raise provider_error_for_status(
                exc.status_code, f"Сервис распознавания речи ответил HTTP {exc.status_code}."
            ) from exc
        except openai.APIConnectionError as exc:  # includes timeouts
            raise TransientProviderError(f"Сервис распознавания речи недоступен: {type(exc).__name__}.") from exc
        except openai.OpenAIError as exc:
            raise PermanentProviderError(f"Сервис распознавания речи вернул непонятный ответ: {exc}") from exc
        text = getattr(result, "text", result if isinstance(result, str) else "")
        return Transcript(text=str(text).strip(), provider=self.name, language=language)
