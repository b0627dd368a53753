from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx

from backend.core.config import Settings
from helpers import client_for, derive_settings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "vector_store": "ok"}}


async def test_health_503_names_redis_when_it_is_down(tmp_path: Path, settings: Settings, app_factory: Any) -> None:
    down = derive_settings(settings, tmp_path, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    app = await app_factory(down)
    async with client_for(app) as http:
        response = await http.get("/health")
        session = await http.get("/auth/session")  # a request that needs Redis
    assert response.status_code == 503
    body = response.json()
    assert body["error_code"] == "DEPENDENCY_UNAVAILABLE"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down")
    assert "redis" in body["detail"]
    assert session.status_code == 503
    assert session.json()["error_code"] == "SERVICE_UNAVAILABLE"


async def test_health_503_names_database_when_it_is_down(tmp_path: Path, settings: Settings, app_factory: Any) -> None:
    down = derive_settings(settings, tmp_path, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    app = await app_factory(down)
    async with client_for(app) as http:
        response = await http.get("/health")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"].startswith("down") and checks["redis"] == "ok" and checks["vector_store"] == "ok"
    assert "database" in response.json()["detail"]
