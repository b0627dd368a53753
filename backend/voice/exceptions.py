"""Voice errors. HTTP-facing ones carry their status (``AppError``); task-facing ones carry a code.

Task errors take a single message argument, so Celery can rebuild them from the result backend and
``GET /ai/tasks/{id}`` can show their ``error_code`` and Russian ``detail``.
"""

from __future__ import annotations

from backend.core.errors import NotFound, PayloadTooLarge, ServiceUnavailable, Unprocessable, UnsupportedMediaType
from backend.voice.constants import TRANSIENT_HTTP_STATUSES

# --- rejected input (before anything is enqueued) -------------------------------------------------


class AudioTooLarge(PayloadTooLarge):
    error_code = "AUDIO_TOO_LARGE"


class UnsupportedAudio(UnsupportedMediaType):
    error_code = "UNSUPPORTED_AUDIO"


class InvalidAudio(Unprocessable):
    error_code = "INVALID_AUDIO"


class TaskNotFound(NotFound):
    error_code = "TASK_NOT_FOUND"
    default_detail = "Задача не найдена."


class VoiceUnavailable(ServiceUnavailable):
    error_code = "VOICE_UNAVAILABLE"


# --- failures inside tasks and providers -----------------------------------------------------------


class VoiceError(Exception):
    error_code = "VOICE_ERROR"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ProviderError(VoiceError):
    error_code = "PROVIDER_ERROR"


class TransientProviderError(ProviderError):
    """Worth retrying: timeouts, connection errors, 429 and 5xx."""

    error_code = "PROVIDER_UNAVAILABLE"


class PermanentProviderError(ProviderError):
    """Retrying would fail the same way: 4xx, an unreadable answer, nothing recognised."""

    error_code = "PROVIDER_REJECTED"


class ProviderNotConfigured(PermanentProviderError):
    error_code = "PROVIDER_NOT_CONFIGURED"


class AudioProcessingError(VoiceError):
    """ffmpeg, ffprobe or espeak-ng failed or are missing."""

    error_code = "AUDIO_PROCESSING_FAILED"


class MediaStorageFailed(VoiceError):
    """The media directory cannot take a file: disk full, read-only, not a directory."""

    error_code = "MEDIA_STORAGE_FAILED"


class MediaStoreUnavailable(TransientProviderError):
    """The object store (S3) did not answer or refused us: retried in tasks, 503 for an upload."""

    error_code = "MEDIA_STORAGE_UNAVAILABLE"


class TaskTimedOut(VoiceError):
    error_code = "TASK_TIMEOUT"


class SpeechNotRecognized(PermanentProviderError):
    error_code = "SPEECH_NOT_RECOGNIZED"


def provider_error_for_status(status: int | None, detail: str) -> ProviderError:
    """An HTTP status from a provider, as a transient (retry) or a permanent (fail now) error."""
    if status is None or status in TRANSIENT_HTTP_STATUSES or status >= 500:
        return TransientProviderError(detail)
    return PermanentProviderError(detail)
