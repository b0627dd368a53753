from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.core.config import Settings


def build(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["SECRET", "SECRET_ADMIN_TOKEN"])
@pytest.mark.parametrize("value", ["", "change-me", "dev-secret"])
def test_production_refuses_placeholder_secrets_and_names_them(missing: str, value: str) -> None:
    good = {"SECRET": "x" * 40, "SECRET_ADMIN_TOKEN": "y" * 40}
    good[missing] = value
    with pytest.raises(ValidationError) as info:
        build(ENVIRONMENT="production", **good)
    assert missing in str(info.value)


def test_production_accepts_real_secrets() -> None:
    settings = build(ENVIRONMENT="production", SECRET="s" * 40, SECRET_ADMIN_TOKEN="t" * 40)
    assert settings.cookie_secure is True


def test_development_allows_defaults_and_debug_drops_secure_flag() -> None:
    assert build().cookie_secure is True
    assert build(DEBUG=True).cookie_secure is False
    assert build(DEBUG=True, SECURE_COOKIES=True).cookie_secure is True


def test_csv_lists_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, http://localhost:3000")
    monkeypatch.setenv("SUBSCRIPTION_WHITELIST", "boss@example.com")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.CORS_ORIGINS == ["https://a.example", "http://localhost:3000"]
    assert settings.SUBSCRIPTION_WHITELIST == ["boss@example.com"]


@pytest.mark.parametrize(
    ("dsn", "async_url", "sync_url"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db", "postgresql+psycopg2://u:p@h:5432/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_one_dsn_gives_both_engines(dsn: str, async_url: str, sync_url: str) -> None:
    settings = build(DATABASE_URL=dsn)
    assert settings.database_url_async == async_url
    assert settings.database_url_sync == sync_url


def test_default_database_is_sqlite_under_var(tmp_path: object) -> None:
    settings = build(VAR_DIR="/tmp/leadinc-var")
    assert settings.database_url_sync == "sqlite:////tmp/leadinc-var/leadinc.db"


def test_unsupported_dsn_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="postgresql:// or sqlite://"):
        _ = build(DATABASE_URL="mysql://x/y").database_url_sync


def test_example_env_file_parses_and_documents_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from dotenv import dotenv_values

    from backend.core.config import ROOT_DIR

    example = ROOT_DIR / "backend" / ".env.backend.example"
    text = example.read_text(encoding="utf-8")
    documented = {line.lstrip("# ").split("=", 1)[0] for line in text.splitlines() if "=" in line}
    missing = sorted(set(Settings.model_fields) - documented)
    assert not missing, f"settings missing from {example.name}: {missing}"
    for key in list(Settings.model_fields):
        monkeypatch.delenv(key, raising=False)
    settings = Settings(_env_file=example)  # type: ignore[call-arg]
    values = dotenv_values(example)
    assert settings.RATE_BURST == values["RATE_BURST"] == "6/10 seconds"
    assert settings.OPENAI_MAX_RETRIES == 2


def test_several_host_settings_refuse_incomplete_values() -> None:
    with pytest.raises(ValueError, match="MEDIA_STORAGE=s3 needs S3_BUCKET"):
        build(MEDIA_STORAGE="s3")
    with pytest.raises(ValueError, match="INDEX_STORE=redis needs REDIS_URL"):
        build(INDEX_STORE="redis", REDIS_URL="")
    defaults = build()
    assert (defaults.MEDIA_STORAGE, defaults.INDEX_STORE, defaults.CHROMA_TOKEN) == ("local", "files", "")
