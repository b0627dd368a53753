"""What the API fuzz run needs: the app's settings, the schemathesis config, the error-shape check
and the callers it rotates through. Used by ``tests/fuzz`` (and so by ``scripts/fuzz_api.sh``).

Budget knobs (environment): ``FUZZ_MAX_EXAMPLES`` (per operation, fuzzing phase), ``FUZZ_SEED``,
``FUZZ_COVERAGE`` (``0`` skips the deterministic coverage phase).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.core.config import Settings
from helpers import ADMIN_TOKEN, make_settings

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
SEED = int(os.environ.get("FUZZ_SEED", "20240611"))
COVERAGE = os.environ.get("FUZZ_COVERAGE", "1") != "0"

# Generous limits: with the defaults, the per-IP burst (30/10 s) answers 429 to nearly every chat
# call after the first second, so the turn engine would never see the fuzzed input. 429 itself is
# declared in the schema and checked in tests/chat/test_limits.py.
GENEROUS_LIMITS = {
    "RATE_BURST": "100000/10 seconds",
    "RATE_BURST_IP": "100000/10 seconds",
    "RATE_DAILY_GUEST": "1000000/day",
    "RATE_DAILY_USER": "1000000/day",
    "RATE_DAILY_IP": "1000000/day",
    "RATE_OFFTOPIC": "1000000/day",
}

ERROR_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
MEMBER_EMAIL = "fuzz-member@example.com"
MEMBER_PASSWORD = "fuzz-password-0123"


def fuzz_settings(tmp: Path, **overrides: Any) -> Settings:
    """The app under fuzz: CSRF on (so the middleware is exercised), speech recognition "configured"
    to a closed port (uploads reach validation; no worker runs the queued tasks)."""
    values: dict[str, Any] = {
        "CSRF_ENABLED": True,
        "STT_BASE_URL": "http://127.0.0.1:9/v1",
        "TTS_PROVIDER": "espeak",
        "MEDIA_DIR": tmp / "media",
        "ERROR_JOURNAL_PATH": tmp / "error_journal.jsonl",
        **GENEROUS_LIMITS,
    }
    values.update(overrides)
    return make_settings(tmp, **values)


def schemathesis_config() -> schemathesis.Config:
    phases: dict[str, Any] = {
        "examples": {"enabled": True},
        "coverage": {"enabled": COVERAGE},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    }
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none", "deterministic": True},
            "phases": phases,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        }
    )


def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answers ``{"error_code": "UPPER_SNAKE", "detail": "<text>"}`` (SPEC section 3);
    429 also says when to come back."""
    status = response.status_code
    if status < 400:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"{status} body is not JSON: {response.content[:200]!r}") from exc
    if not isinstance(body, dict):
        raise AssertionError(f"{status} body is not an object: {body!r:.200}")
    code, detail = body.get("error_code"), body.get("detail")
    if not (isinstance(code, str) and ERROR_CODE.fullmatch(code)):
        raise AssertionError(f"{status} error_code is not UPPER_SNAKE: {body!r:.300}")
    if not (isinstance(detail, str) and detail.strip()):
        raise AssertionError(f"{status} detail is not a non-empty string: {body!r:.300}")
    if status == 429 and not response.headers.get("retry-after"):
        raise AssertionError("429 without Retry-After")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


@dataclass
class Caller:
    """Who sends a fuzz case: extra headers (cookies, CSRF, admin token) merged over the case's."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    admin: bool = False


def cookies_from(response: Any) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for value in response.headers.get("set-cookie") or []:
        jar.load(value)
    return {name: morsel.value for name, morsel in jar.items()}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def sign_in(schema: Any) -> dict[str, str]:
    """Registers and logs in the member account through the app itself; returns its cookies."""
    register = schema["/auth/register"]["POST"]
    login = schema["/auth/jwt/login_custom"]["POST"]
    health = schema["/health"]["GET"]
    credentials = {"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD}
    created = register.Case(body=credentials, media_type="application/json").call()
    assert created.status_code in (201, 409), created.text
    logged_in = login.Case(body=credentials, media_type="application/json").call()
    assert logged_in.status_code == 200, logged_in.text
    cookies = cookies_from(logged_in)
    cookies.update(cookies_from(health.Case().call()))
    assert {"sessionid", "fastapiusersauth", "csrftoken"} <= cookies.keys(), cookies
    return cookies


def callers(cookies: dict[str, str]) -> Iterator[Caller]:
    """A deterministic rotation (a seeded run sends the same case as the same caller): anonymous as
    generated; the member with a valid CSRF pair and the admin token; now and then a forger whose
    cookies are garbage and whose CSRF header does not match (403 on every POST)."""
    member = {"cookie": cookie_header(cookies), "x-csrftoken": cookies["csrftoken"]}
    forged = {
        "cookie": cookie_header({"sessionid": "x" * 40, "fastapiusersauth": "not.a.jwt", "csrftoken": "bad"}),
        "x-csrftoken": "other",
    }
    anonymous, signed_in = Caller("anonymous"), Caller("member", member, admin=True)
    return itertools.cycle([anonymous, signed_in, anonymous, signed_in, Caller("forger", forged)])


STATS: Counter[tuple[str, str, int]] = Counter()  # (operation, caller, status) -> responses


def send(case: Any, caller: Caller) -> Any:
    if caller.admin and case.headers is not None and "x-admin-token" in {k.lower() for k in case.headers}:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "x-admin-token"}
        case.headers["X-Admin-Token"] = ADMIN_TOKEN
    response = case.call(headers=caller.headers or None)
    STATS[(case.operation.label, caller.name, response.status_code)] += 1
    case.validate_response(response, checks=CHECKS, headers=caller.headers or None)
    return response


def write_stats(path: str) -> None:
    """``FUZZ_STATS=<file>``: responses per operation, caller and status, for the run's report."""
    rows = [{"operation": op, "caller": who, "status": status, "count": n} for (op, who, status), n in STATS.items()]
    Path(path).write_text(json.dumps(sorted(rows, key=lambda r: (r["operation"], r["caller"], r["status"])), indent=1))
