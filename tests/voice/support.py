"""Small helpers for the voice tests: upload a file, wait for a task."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx


async def wait_task(http: httpx.AsyncClient, task_id: str, within: float = 30.0) -> dict[str, Any]:
    """Poll ``GET /ai/tasks/{id}`` until the task is done or failed."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await http.get(f"/ai/tasks/{task_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed"):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"task {task_id} still {body['status']} after {within} s: {body}")
        await asyncio.sleep(0.1)


async def upload(http: httpx.AsyncClient, path: Path, *, name: str | None = None, **fields: str) -> httpx.Response:
    with path.open("rb") as fh:
        return await http.post(
            "/ai/voice_upload", files={"file": (name or path.name, fh.read(), "application/octet-stream")}, data=fields
        )
