"""The admin API's app and client: one throwaway app per test with an admin-token and a generous
login limit (tests sign many accounts in from one address)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from backend.core.config import Settings
from helpers import client_for, derive_settings


@pytest.fixture
def admin_settings(settings: Settings, tmp_path: Path) -> Settings:
    return derive_settings(settings, tmp_path, MEDIA_DIR=tmp_path / "media", RATE_LOGIN_IP="1000/minute")


@pytest.fixture
async def app(admin_settings: Settings, app_factory: Any) -> FastAPI:
    return await app_factory(admin_settings)  # type: ignore[no-any-return]


@pytest.fixture
async def client(app: FastAPI) -> Any:
    async with client_for(app) as http:
        yield http
