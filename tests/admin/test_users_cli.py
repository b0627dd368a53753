"""``python -m scripts.users`` as an operator runs it (a real process, configured through the
environment) on real PostgreSQL and Redis: list, show, grant, revoke, delete — the same rules as the
admin API; ``delete`` prints what it removed and leaves no row, media file or session state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from admin.support import account_with_data, redis_states_naming, rows_of

from backend.core.config import ROOT_DIR, Settings
from helpers import client_for, derive_settings


@pytest.fixture
def cli_settings(settings: Settings, tmp_path: Path) -> Settings:
    return derive_settings(settings, tmp_path, MEDIA_DIR=tmp_path / "media")


def users(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "MEDIA_"))}
    env.update(
        ENVIRONMENT="test",
        SECRET=settings.SECRET,
        SECRET_ADMIN_TOKEN=settings.SECRET_ADMIN_TOKEN,
        DATABASE_URL=settings.DATABASE_URL,
        REDIS_URL=settings.REDIS_URL,
        MEDIA_DIR=str(settings.media_dir),
        VAR_DIR=str(settings.VAR_DIR),
        LOG_LEVEL="WARNING",
    )
    argv = [sys.executable, "-m", "scripts.users", *args]
    return subprocess.run(argv, cwd=ROOT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_cli_grant_revoke_show_list_and_delete(cli_settings: Settings, app_factory: Any) -> None:
    app = await app_factory(cli_settings)
    async with client_for(app) as client:
        alice = await account_with_data(client, cli_settings, "alice@example.com")
        bob = await account_with_data(client, cli_settings, "bob@example.com", chats=1)

    listed = users(cli_settings, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == "2 account(s)"
    assert "alice@example.com\taccess until" in listed.stdout  # the trial every sign-up starts
    assert {u["email"] for u in ok(users(cli_settings, "list", "--json"))["users"]} == {
        "alice@example.com",
        "bob@example.com",
    }

    granted = ok(users(cli_settings, "grant", "alice@example.com", "--days", "14"))
    ends = datetime.fromisoformat(granted["subscription_ends_at"])
    assert granted["has_access"] is True and timedelta(days=13.9) < ends - datetime.now(UTC) <= timedelta(days=14)
    assert "alice@example.com\taccess until" in users(cli_settings, "list").stdout

    revoked = ok(users(cli_settings, "revoke", "alice@example.com"))
    assert revoked["has_access"] is False

    shown = ok(users(cli_settings, "show", "alice@example.com"))
    assert shown["audio_files"] == len(alice.files) and shown["messages"] >= 4

    before = rows_of(cli_settings, alice)
    deleted = ok(users(cli_settings, "delete", "alice@example.com"))["deleted"]
    assert deleted["email"] == "alice@example.com"
    assert deleted["messages"] == before["messages"] and deleted["sessions"] == before["chat_sessions"]
    assert deleted["funnel_events"] == before["funnel_events"] and deleted["audio_events"] == before["audio_events"]
    assert deleted["media_files"] == len(alice.files) and deleted["redis_sessions"] >= 1
    assert rows_of(cli_settings, alice) == dict.fromkeys(before, 0)
    assert not any(path.exists() for path in alice.files)
    assert redis_states_naming(cli_settings, alice.sessions) == 0
    assert all(path.is_file() for path in bob.files) and rows_of(cli_settings, bob)["users"] == 1


def test_cli_errors_are_clear(cli_settings: Settings) -> None:
    missing = users(cli_settings, "delete", "nobody@example.com")
    assert missing.returncode == 1 and json.loads(missing.stderr)["error_code"] == "USER_NOT_FOUND"
    bad_days = users(cli_settings, "grant", "nobody@example.com", "--days", "0")
    assert bad_days.returncode == 2 and "--days" in bad_days.stderr
    assert users(cli_settings, "grant", "x@example.com").returncode == 2  # --days is required
    assert users(cli_settings, "frobnicate").returncode == 2
