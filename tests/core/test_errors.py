"""Bad input always gets the one error shape and never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from backend.core.config import Settings
from backend.core.logging import configure_logging, journal_error


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert isinstance(body["detail"], str) and body["detail"]


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register", content=b'{"email": "a@b.c", "password":', headers={"content-type": "application/json"}
    )
    assert_error_shape(response, 400, "MALFORMED_JSON")


async def test_wrong_types_do_not_echo_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/register", json={"email": ["x"], "password": "secret-password-123"})
    assert_error_shape(response, 422, "VALIDATION_ERROR")
    assert "secret-password-123" not in response.text
    assert response.json()["errors"][0]["loc"] == ["body", "email"]


async def test_missing_body(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.post("/api/verify-code"), 422, "VALIDATION_ERROR")


async def test_oversized_body_by_content_length(client: httpx.AsyncClient) -> None:
    big = json.dumps({"contact": "x" * 100_000, "code": "1"})
    assert_error_shape(await client.post("/api/verify-code", content=big), 413, "PAYLOAD_TOO_LARGE")


async def test_oversized_body_streamed_without_length(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"contact": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'", "code": "1"}'

    response = await client.post("/api/verify-code", content=chunks(), headers={"content-type": "application/json"})
    assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/no/such/route"), 404, "NOT_FOUND")
    assert_error_shape(await client.get("/auth/jwt/login_custom"), 405, "METHOD_NOT_ALLOWED")


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert len((await client.get("/health")).headers["x-request-id"]) == 32


def test_error_journal_is_json_lines(settings: Settings) -> None:
    configure_logging(settings)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        journal_error("task_failed", exc, task="voice.stt")
    lines = Path(settings.error_journal_path).read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["kind"] == "task_failed"
    assert record["task"] == "voice.stt"
    assert record["error_type"] == "RuntimeError"
    assert "boom" in record["traceback"]


@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json"])
async def test_docs_and_health_load(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
