"""Picks the text-to-speech provider from settings (offline espeak-ng by default)."""

from __future__ import annotations

from backend.core.config import Settings
from backend.voice.constants import PROVIDER_TIMEOUT_SECONDS
from backend.voice.tts.base import TextToSpeech
from backend.voice.tts.elevenlabs import ElevenLabsSynthesizer
from backend.voice.tts.espeak import EspeakSynthesizer


def build_tts(settings: Settings) -> TextToSpeech:
    if settings.TTS_PROVIDER == "elevenlabs":
        return ElevenLabsSynthesizer(
            api_key=settings.ELEVENLABS_API_KEY,
            voice_id=settings.ELEVENLABS_VOICE_ID,
            fallback_voice_id=settings.ELEVENLABS_FALLBACK_VOICE_ID,
            model=settings.ELEVENLABS_MODEL,
            base_url=settings.ELEVENLABS_BASE_URL,
            timeout=PROVIDER_TIMEOUT_SECONDS,
        )
    if settings.TTS_PROVIDER == "openai":
        from backend.voice.tts.openai import OpenAISynthesizer  # the OpenAI SDK only when configured

        return OpenAISynthesizer(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL or None,
            model=settings.TTS_MODEL,
            voice=settings.TTS_VOICE,
            timeout=PROVIDER_TIMEOUT_SECONDS,
        )
    return EspeakSynthesizer(settings.ESPEAK_VOICE)
