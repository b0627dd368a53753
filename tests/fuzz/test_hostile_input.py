"""Regression tests for what the API fuzzing found, plus the hostile inputs a generator rarely
produces (NUL bytes, lone surrogates, invalid UTF-8, huge numbers, deep nesting, wrong media types).

Every answer must be a 4xx in the error shape; never a 5xx for bad input (SPEC section 3).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI, Request
from httpx import AsyncClient
from sqlalchemy.exc import DataError

from backend.chat.dependencies import get_chat_service
from backend.chat.service import ChatService
from backend.core.config import Settings
from backend.core.error_handlers import classify
from helpers import client_for, derive_settings

JSON = {"content-type": "application/json"}


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("error_code"), str) and body["error_code"].isupper(), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if code is not None:
        assert body["error_code"] == code, body
    return body


# --- bug: a NUL character reached PostgreSQL and came back as 503 "storage unavailable" ---------
@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/ai/chat", {"message": "привет\u0000мир"}),
        ("/ai/chat", {"message": "\u0000", "voice": True}),
        ("/ai/chat/stream", {"message": "x\u0000"}),  # was 200 with an empty stream: no message, no error
        ("/ai/tts", {"text": "при\u0000вет", "sync": True}),
        ("/ai/tts", {"text": "при\u0000вет"}),
    ],
)
async def test_nul_characters_are_rejected_as_input(client: AsyncClient, path: str, payload: dict[str, Any]) -> None:
    body = assert_error(await client.post(path, json=payload), 422, "VALIDATION_ERROR")
    assert "NUL" in body["detail"]


def test_a_value_the_database_refuses_is_bad_input_not_an_outage() -> None:
    exc = DataError("INSERT ...", {}, Exception("invalid byte sequence for encoding UTF8: 0x00"))
    status, body, _ = classify(exc, "/ai/chat", "POST")
    assert (status, body["error_code"]) == (422, "INVALID_INPUT")


# --- bug: an unexpected error inside a streamed turn ended the stream without any event ---------
async def test_stream_reports_unexpected_errors_in_the_error_shape(settings: Settings, app_factory: Any) -> None:
    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    async def exploding(request: Request) -> ChatService:
        service = await get_chat_service(request)  # the real service (and its turn lock); only the turn explodes
        service.handle = explode  # type: ignore[method-assign]
        return service

    app: FastAPI = await app_factory(settings)
    app.dependency_overrides[get_chat_service] = exploding
    async with client_for(app) as client:
        response = await client.post("/ai/chat/stream", json={"message": "Сколько стоит?"})
    assert response.status_code == 200
    events = [block for block in response.text.split("\r\n\r\n") if "event: error" in block]
    assert len(events) == 1, response.text
    data = json.loads(events[0].split("data: ", 1)[1])
    assert data == {"error_code": "INTERNAL_ERROR", "detail": data["detail"]} and data["detail"]
    assert "boom" not in response.text


# --- bug: a body in the wrong media type answered 422 "Input should be a valid dictionary" -------
@pytest.mark.parametrize(
    ("path", "headers", "content"),
    [
        ("/ai/chat", {"content-type": "text/plain"}, b'{"message": "hi"}'),
        ("/ai/chat", {"content-type": "application/x-www-form-urlencoded"}, b"message=hi"),
        ("/ai/chat", {}, b'{"message": "hi"}'),
        ("/ai/chat", {"content-type": "multipart/form-data; boundary=x"}, b"--x--\r\n"),
        ("/auth/register", {"content-type": "text/xml"}, b"<email/>"),
        ("/api/verify-code", {"content-type": "application/jsonx"}, b"{}"),
        ("/ai/voice_upload", JSON, b'{"file": "AAAA"}'),
    ],
)
async def test_wrong_media_type_is_415(client: AsyncClient, path: str, headers: dict[str, str], content: bytes) -> None:
    assert_error(await client.post(path, headers=headers, content=content), 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.x+json"]
)
async def test_json_media_type_variants_are_accepted(client: AsyncClient, content_type: str) -> None:
    response = await client.post("/ai/chat", headers={"content-type": content_type}, content=b'{"message": "hi"}')
    assert response.status_code == 200, response.text


async def test_an_empty_post_without_media_type_is_a_validation_error(client: AsyncClient) -> None:
    assert_error(await client.post("/ai/chat"), 422, "VALIDATION_ERROR")


# --- hostile bodies the handlers already answered correctly (kept as regressions) -----------------
@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"message": "\\ud800 hi"}', 422),  # a lone surrogate
        (b'{"message": "\xff\xfe hi"}', 400),  # invalid UTF-8
        (b'{"message": "hi", "voice": 1e999999}', 422),  # infinity
        (b'{"message": ' + b"9" * 5000 + b"}", 400),  # over Python's int digit limit
        (b"[" * 5000 + b"]" * 5000, 400),  # nesting deeper than the recursion limit
        (b'{"message": "hi"', 400),  # truncated
        ('{"message": "héllo"}'.encode("latin-1"), 400),  # not UTF-8
    ],
)
async def test_hostile_json_bodies_are_4xx(client: AsyncClient, content: bytes, status: int) -> None:
    assert_error(await client.post("/ai/chat", headers=JSON, content=content), status)


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/api/generate-code", {"x-admin-token": "\u00e9t\u00e9".encode()}, 403),
        ("POST", "/api/generate-code", {"x-admin-token": b"\xff\x00"}, 403),
        ("GET", "/auth/users/me", {"cookie": "fastapiusersauth=\u00e9\u00e9".encode()}, 401),
        ("GET", "/ai/tasks/%00%ff", {}, 404),
        ("GET", "/ai/tasks/" + "a" * 5000, {}, 404),
        ("GET", "/media/audio/..%2f..%2f/etc", {}, 404),
        ("GET", "/health", {"content-length": "99999999999999999999"}, 413),
        ("DELETE", "/ai/chat", {}, 405),
    ],
)
async def test_hostile_headers_and_paths_are_4xx(
    client: AsyncClient, method: str, path: str, headers: dict[str, Any], status: int
) -> None:
    content = b'{"contact": "abc"}' if method == "POST" else None
    response = await client.request(method, path, headers={**JSON, **headers}, content=content)
    if status == 401:  # /auth/users/me answers its own 401 shape (SPEC), which includes the error fields
        assert response.status_code == 401 and response.json()["is_authenticated"] is False
        return
    assert_error(response, status)


# --- bug: a refused Host header answered plain text "Invalid host header" ------------------------
@pytest.mark.parametrize("host", ["evil.example.org", "", "[bad", "leadinc.example.evil.org"])
async def test_refused_host_answers_in_the_error_shape(settings: Settings, app_factory: Any, host: str) -> None:
    app = await app_factory(derive_settings(settings, settings.VAR_DIR.parent, ALLOWED_HOSTS=["leadinc.example"]))
    async with client_for(app, base_url="https://leadinc.example") as client:
        assert (await client.get("/health")).status_code == 200
        assert_error(await client.get("/health", headers={"host": host}), 400, "INVALID_HOST")
