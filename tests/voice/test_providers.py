"""STT and TTS providers against the local stand-in server: requests they make, how failures are
classified (transient → retry, permanent → fail), ElevenLabs' fallback voice, missing configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from voice.samples import make_clip, probe
from voice.speech_standin import Reply, SpeechStandIn

from backend.voice.exceptions import (
    PermanentProviderError,
    ProviderNotConfigured,
    SpeechNotRecognized,
    TransientProviderError,
)
from backend.voice.media.local import LocalMediaStorage
from backend.voice.speech import synthesize, transcribe
from backend.voice.stt.factory import build_stt, stt_problem
from backend.voice.stt.local import LocalWhisperTranscriber
from backend.voice.stt.openai import OpenAITranscriber
from backend.voice.tts.elevenlabs import ElevenLabsSynthesizer
from backend.voice.tts.factory import build_tts
from backend.voice.tts.openai import OpenAISynthesizer
from helpers import make_settings


def _stt(standin: SpeechStandIn) -> OpenAITranscriber:
    return OpenAITranscriber(api_key="sk-test", base_url=standin.base_url, model="whisper-1", timeout=5)


def test_openai_transcription_sends_the_russian_hint(standin: SpeechStandIn, tmp_path: Path) -> None:
    clip = make_clip(tmp_path, "m4a", 1.0)
    result = _stt(standin).transcribe(clip, "ru")
    assert result.text == standin.transcript and result.provider == "openai"
    request = standin.transcriptions[-1]
    assert request["language"] == "ru" and request["model"] == "whisper-1"
    assert request["filename"] == clip.name and request["size"] == clip.stat().st_size
    assert request["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, TransientProviderError), (500, TransientProviderError), (503, TransientProviderError),
     (400, PermanentProviderError), (401, PermanentProviderError), (413, PermanentProviderError)],
)  # fmt: skip
def test_http_failures_are_classified(standin: SpeechStandIn, tmp_path: Path, status: int, error: type) -> None:
    standin.push(Reply(status=status))
    with pytest.raises(error, match=str(status)):
        _stt(standin).transcribe(make_clip(tmp_path, "mp3", 0.5), "ru")
    assert len(standin.transcriptions) == 1  # the SDK's own retries are off: the task decides


def test_an_unreachable_service_is_transient(tmp_path: Path) -> None:
    provider = OpenAITranscriber(api_key="k", base_url="http://127.0.0.1:9/v1", model="whisper-1", timeout=2)
    with pytest.raises(TransientProviderError):
        provider.transcribe(make_clip(tmp_path, "mp3", 0.5), "ru")


def test_silence_is_not_a_transcript(standin: SpeechStandIn, tmp_path: Path) -> None:
    standin.push(Reply(text="   "))
    with pytest.raises(SpeechNotRecognized):
        transcribe(_stt(standin), make_clip(tmp_path, "mp3", 0.5))


def test_stt_endpoint_falls_back_to_the_openai_settings(standin: SpeechStandIn, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, OPENAI_BASE_URL=standin.base_url, OPENAI_API_KEY="sk-main", STT_MODEL="large-v3")
    assert stt_problem(settings) is None
    build_stt(settings).transcribe(make_clip(tmp_path, "ogg", 0.5), "ru")
    assert standin.transcriptions[-1]["authorization"] == "Bearer sk-main"
    assert standin.transcriptions[-1]["model"] == "large-v3"
    assert stt_problem(make_settings(tmp_path)) is not None
    with pytest.raises(ProviderNotConfigured):
        build_stt(make_settings(tmp_path))


def test_local_whisper_never_downloads_and_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ProviderNotConfigured, match="WHISPER_MODEL_DIR"):
        LocalWhisperTranscriber(None)
    with pytest.raises(ProviderNotConfigured, match=r"model\.bin"):
        LocalWhisperTranscriber(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"\0")
    provider = LocalWhisperTranscriber(tmp_path)
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        with pytest.raises(ProviderNotConfigured, match="pip install faster-whisper"):
            provider.transcribe(make_clip(tmp_path, "wav", 0.5), "ru")
    settings = make_settings(tmp_path, STT_PROVIDER="local", WHISPER_MODEL_DIR=tmp_path / "absent")
    assert "WHISPER_MODEL_DIR" in (stt_problem(settings) or "")


def test_openai_speech(standin: SpeechStandIn, tmp_path: Path) -> None:
    provider = OpenAISynthesizer(api_key="k", base_url=standin.base_url, model="tts-1", voice="alloy", timeout=5)
    storage = LocalMediaStorage(tmp_path, "/media")
    stored = synthesize(provider, storage, "Добрый день", "ogg")
    assert probe(storage.resolve(stored.relative))["codec_name"] == "opus"
    assert (
        standin.speech_requests[-1] | {"input": "Добрый день", "voice": "alloy", "model": "tts-1"}
        == (standin.speech_requests[-1])
    )
    standin.push(Reply(status=503))
    with pytest.raises(TransientProviderError):
        provider.synthesize("текст", tmp_path)


def _eleven(standin: SpeechStandIn, fallback: str = "fallback-voice") -> ElevenLabsSynthesizer:
    return ElevenLabsSynthesizer(
        api_key="xi-test", voice_id="primary-voice", fallback_voice_id=fallback, base_url=standin.root_url, timeout=5
    )


def test_elevenlabs_primary_voice(standin: SpeechStandIn, tmp_path: Path) -> None:
    provider = _eleven(standin)
    storage = LocalMediaStorage(tmp_path, "/media")
    stored = synthesize(provider, storage, "Здравствуйте", "m4a")
    assert probe(storage.resolve(stored.relative))["codec_name"] == "aac"
    assert [r["voice"] for r in standin.speech_requests] == ["primary-voice"]
    assert standin.speech_requests[0]["text"] == "Здравствуйте"


def test_elevenlabs_falls_back_once_to_the_second_voice(standin: SpeechStandIn, tmp_path: Path) -> None:
    standin.failing_voices["primary-voice"] = 500
    provider = _eleven(standin)
    provider.synthesize("Здравствуйте", tmp_path)
    assert [r["voice"] for r in standin.speech_requests] == ["primary-voice", "fallback-voice"]
    assert provider.used_voice == "fallback-voice"

    standin.speech_requests.clear()
    standin.failing_voices["fallback-voice"] = 503
    with pytest.raises(TransientProviderError):
        provider.synthesize("Здравствуйте", tmp_path)
    assert [r["voice"] for r in standin.speech_requests] == ["primary-voice", "fallback-voice"]


def test_elevenlabs_without_fallback_or_configuration(standin: SpeechStandIn, tmp_path: Path) -> None:
    standin.failing_voices["primary-voice"] = 401
    with pytest.raises(PermanentProviderError):
        _eleven(standin, fallback="").synthesize("текст", tmp_path)
    with pytest.raises(ProviderNotConfigured, match="ELEVENLABS_API_KEY"):
        build_tts(make_settings(tmp_path, TTS_PROVIDER="elevenlabs"))
    assert build_tts(make_settings(tmp_path)).name == "espeak"  # the embedded default
