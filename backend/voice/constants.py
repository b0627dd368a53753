"""Every fixed number and list of the voice domain and of background work, in one place.

Formats, size and duration defaults, subprocess timeouts, SLAs, retries, task time limits and
expiries. Operator-tunable limits (``AUDIO_MAX_BYTES``, ``AUDIO_MAX_SECONDS``,
``AUDIO_RETENTION_DAYS``) live in Settings; the defaults there match the ones documented here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# --- input audio ---------------------------------------------------------------------------------
STT_LANGUAGE: Final = "ru"
INPUT_EXTENSIONS: Final = ("mp3", "ogg", "m4a", "webm", "wav")

# What ffprobe must find inside a file with a given extension: container names and audio codecs.
INPUT_CONTAINERS: Final[dict[str, frozenset[str]]] = {
    "mp3": frozenset({"mp3"}),
    "ogg": frozenset({"ogg"}),
    "m4a": frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}),
    "webm": frozenset({"matroska", "webm"}),
    "wav": frozenset({"wav"}),
}
INPUT_CODECS: Final[dict[str, frozenset[str]]] = {
    "mp3": frozenset({"mp3"}),
    "ogg": frozenset({"opus", "vorbis", "flac"}),
    "m4a": frozenset({"aac", "alac", "mp3"}),
    "webm": frozenset({"opus", "vorbis"}),
    "wav": frozenset(
        {"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8", "pcm_alaw", "pcm_mulaw", "adpcm_ima_wav"}
    ),
}
DEFAULT_AUDIO_MAX_BYTES: Final = 10 * 1024 * 1024
DEFAULT_AUDIO_MAX_SECONDS: Final = 60.0
# A file whose container promises this much more audio than it decodes to is truncated.
TRUNCATION_TOLERANCE_SECONDS: Final = 0.5
TRUNCATION_TOLERANCE_RATIO: Final = 0.1
MIN_AUDIO_SECONDS: Final = 0.1
UPLOAD_CHUNK_BYTES: Final = 256 * 1024
UPLOAD_BODY_OVERHEAD_BYTES: Final = 64 * 1024  # multipart framing and form fields around the file

# --- output audio --------------------------------------------------------------------------------
OutputFormat = Literal["mp3", "ogg", "m4a", "webm"]
OUTPUT_FORMATS: Final[tuple[OutputFormat, ...]] = ("mp3", "ogg", "m4a", "webm")


@dataclass(frozen=True)
class Encoding:
    """How ffmpeg writes one output format, and the MIME type it is served with."""

    codec_args: tuple[str, ...]
    muxer: str
    mime: str
    codec: str  # what ffprobe reports for the result


ENCODINGS: Final[dict[str, Encoding]] = {
    # the web player
    "mp3": Encoding(("-c:a", "libmp3lame", "-b:a", "64k", "-ar", "24000"), "mp3", "audio/mpeg", "mp3"),
    # Telegram voice messages: Ogg/Opus, mono, 48 kHz
    "ogg": Encoding(
        ("-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-application", "voip"), "ogg", "audio/ogg", "opus"
    ),
    # Apple devices: AAC in an MPEG-4 audio container, index up front for progressive playback
    "m4a": Encoding(
        ("-c:a", "aac", "-b:a", "64k", "-ar", "24000", "-movflags", "+faststart"), "ipod", "audio/mp4", "aac"
    ),
    # browsers' MediaRecorder format
    "webm": Encoding(("-c:a", "libopus", "-b:a", "32k", "-ar", "48000"), "webm", "audio/webm", "opus"),
}

# --- subprocesses (fixed argv, never a shell) -----------------------------------------------------
FFPROBE_TIMEOUT_SECONDS: Final = 15.0
FFMPEG_DECODE_TIMEOUT_SECONDS: Final = 30.0
FFMPEG_ENCODE_TIMEOUT_SECONDS: Final = 60.0
ESPEAK_TIMEOUT_SECONDS: Final = 60.0
ESPEAK_WORDS_PER_MINUTE: Final = 165

# --- providers -----------------------------------------------------------------------------------
PROVIDER_TIMEOUT_SECONDS: Final = 60.0  # one STT or TTS HTTP call
TRANSIENT_HTTP_STATUSES: Final = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
TTS_MAX_CHARS: Final = 4000
TTS_SYNC_MAX_CHARS: Final = 300  # POST /ai/tts {"sync": true} answers in-request up to this length

# --- tasks: retries, time limits, expiries ---------------------------------------------------------
MAX_RETRIES: Final = 3  # transient provider errors only
RETRY_BACKOFF_SECONDS: Final = 1.0  # first delay; doubles each retry
RETRY_BACKOFF_MAX_SECONDS: Final = 30.0


@dataclass(frozen=True)
class TaskLimits:
    soft_seconds: int  # SoftTimeLimitExceeded inside the task: it records the failure and stops
    hard_seconds: int  # the pool child is killed
    expires_seconds: int  # a message not started by then is discarded (enqueue with an expiry)


TASK_LIMITS: Final[dict[str, TaskLimits]] = {
    "voice.stt": TaskLimits(soft_seconds=90, hard_seconds=120, expires_seconds=600),
    "voice.tts": TaskLimits(soft_seconds=60, hard_seconds=90, expires_seconds=600),
    "voice.cleanup": TaskLimits(soft_seconds=300, hard_seconds=360, expires_seconds=3000),
    "chat.process_text": TaskLimits(soft_seconds=90, hard_seconds=120, expires_seconds=600),
}
CLEANUP_INTERVAL_SECONDS: Final = 3600.0

# --- SLAs (what the benchmarks in BENCHMARKS.md check against) -------------------------------------
SLA_QUEUE_LATENCY_P95_SECONDS: Final = 0.5  # enqueue -> start with idle workers
SLA_OFFLINE_TTS_SECONDS_PER_100_CHARS: Final = 1.0
SLA_VOICE_REPLY_SECONDS: Final = 10.0  # upload -> reply for a 5 s clip, instant STT

# --- audio event rows (``audio_events.status``) ------------------------------------------------------
EVENT_QUEUED: Final = "queued"
EVENT_PROCESSING: Final = "processing"
EVENT_RETRYING: Final = "retrying"
EVENT_DONE: Final = "done"
EVENT_FAILED: Final = "failed"

# --- task records ----------------------------------------------------------------------------------
TASK_KEY_PREFIX: Final = "leadinc:task:"
STEP_NAMES: Final = {"voice.stt": "stt", "chat.process_text": "chat", "voice.tts": "tts"}
