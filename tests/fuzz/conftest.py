"""The app under fuzz: real PostgreSQL and Redis (the session fixtures), the offline assistant model,
the test knowledge index. Schemathesis drives it in-process over ASGI and runs its lifespan in its
own event loop, so the app is built here but started by the first request."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fuzz.support import Caller, callers, fuzz_settings, schemathesis_config, sign_in, write_stats

from backend.main import create_app
from helpers import reset_stores


@pytest.fixture(scope="module")
def fuzz_app(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str, knowledge_dirs: dict[str, Any]
) -> Iterator[FastAPI]:
    reset_stores(database_url, redis_url)
    tmp = tmp_path_factory.mktemp("fuzz")
    yield create_app(fuzz_settings(tmp, DATABASE_URL=database_url, REDIS_URL=redis_url, **knowledge_dirs))
    schemathesis.python.asgi.shutdown_lifespans()
    if os.environ.get("FUZZ_STATS"):
        write_stats(os.environ["FUZZ_STATS"])
    reset_stores(database_url, redis_url)


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=schemathesis_config())


@pytest.fixture(scope="module")
def fuzz_callers(fuzz_schema: Any) -> dict[str, Iterator[Caller]]:
    """One caller rotation per operation, built lazily (the member signs in once)."""
    cookies = sign_in(fuzz_schema)
    return defaultdict(lambda: callers(cookies))


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 reads ``node._nodeid``, which pytest 9.2 no longer has (it is ``nodeid``)."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
