"""Picks the speech-to-text provider from settings."""

from __future__ import annotations

from backend.core.config import Settings
from backend.voice.constants import PROVIDER_TIMEOUT_SECONDS
from backend.voice.exceptions import ProviderNotConfigured
from backend.voice.stt.base import SpeechToText
from backend.voice.stt.local import LocalWhisperTranscriber


def stt_endpoint(settings: Settings) -> tuple[str, str]:
    """(base URL, API key) for transcription: the STT_* settings, else the OPENAI_* ones."""
    return settings.STT_BASE_URL or settings.OPENAI_BASE_URL, settings.STT_API_KEY or settings.OPENAI_API_KEY


def stt_problem(settings: Settings) -> str | None:
    """Why speech recognition cannot work with these settings, or ``None`` when it can."""
    if settings.STT_PROVIDER == "local":
        model_dir = settings.WHISPER_MODEL_DIR
        if model_dir is None or not (model_dir / "model.bin").is_file():
            return "Распознавание речи не настроено: нет локальной модели (WHISPER_MODEL_DIR)."
        return None
    base_url, api_key = stt_endpoint(settings)
    if not base_url and not api_key:
        return "Распознавание речи не настроено: задайте OPENAI_API_KEY или STT_BASE_URL / OPENAI_BASE_URL."
    return None


def build_stt(settings: Settings) -> SpeechToText:
    if settings.STT_PROVIDER == "local":
        return LocalWhisperTranscriber(settings.WHISPER_MODEL_DIR)
    problem = stt_problem(settings)
    if problem:
        raise ProviderNotConfigured(problem)
    base_url, api_key = stt_endpoint(settings)
    from backend.voice.stt.openai import OpenAITranscriber  # the OpenAI SDK only when configured

    return OpenAITranscriber(
        api_key=api_key, base_url=base_url or None, model=settings.STT_MODEL, timeout=PROVIDER_TIMEOUT_SECONDS
    )
