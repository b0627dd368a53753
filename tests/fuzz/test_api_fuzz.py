"""Property-based fuzzing of every documented route (schemathesis over the app's OpenAPI schema).

Checks on every response: no 5xx, the status code is documented, the content type and the body
match the declared response schema, and every error is ``{"error_code", "detail"}``. Cases rotate
through three callers (anonymous; a signed-in member with a valid CSRF pair and the admin token; a
forger with garbage cookies), so the cookie-authenticated, CSRF and admin-token paths are fuzzed too.

Bounded: ``FUZZ_MAX_EXAMPLES`` per operation (default 12), fixed seed, no example database.
``bash scripts/fuzz_api.sh --max-examples 200`` runs the long version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import schemathesis
from fuzz.support import Caller, send

schema = schemathesis.pytest.from_fixture("fuzz_schema")

EXPECTED_ROUTES = {
    "GET /health",
    "POST /auth/register",
    "POST /auth/request-code",
    "POST /auth/jwt/login_custom",
    "POST /auth/jwt/logout",
    "POST /auth/jwt/logout-all",
    "GET /auth/users/me",
    "GET /auth/session",
    "POST /api/generate-code",
    "POST /api/verify-code",
    "POST /ai/chat",
    "POST /ai/chat/stream",
    "POST /ai/voice_upload",
    "POST /ai/tts",
    "GET /ai/tasks/{task_id}",
    "GET /ai/messages",
    "POST /auth/forgot-password",
    "POST /auth/reset-password",
    "POST /auth/request-verify-token",
    "POST /auth/verify",
    "GET /admin/users",
    "GET /admin/users/{email}",
    "POST /admin/users/{email}/grant",
    "POST /admin/users/{email}/revoke",
    "DELETE /admin/users/{email}",
    "GET /admin/conversations",
    "GET /admin/conversations/{conversation_id}",
    "GET /admin/leads",
    "GET /admin/leads.csv",
    "GET /admin/stats/funnel",
    "POST /admin/conversations/{conversation_id}/take",
    "POST /admin/conversations/{conversation_id}/reply",
    "POST /admin/conversations/{conversation_id}/release",
    "POST /admin/conversations/{conversation_id}/close",
}


def test_schema_covers_every_route(fuzz_schema: Any) -> None:
    documented = {f"{op.ok().method.upper()} {op.ok().path}" for op in fuzz_schema.get_all_operations()}
    assert documented == EXPECTED_ROUTES


@schema.parametrize()
def test_api(case: Any, fuzz_callers: dict[str, Iterator[Caller]]) -> None:
    send(case, next(fuzz_callers[case.operation.label]))


RATE_LIMITED = {
    "POST /ai/chat",
    "POST /ai/chat/stream",
    "POST /ai/voice_upload",
    "POST /ai/tts",
    "POST /api/generate-code",
    "POST /api/verify-code",
    "POST /auth/jwt/login_custom",
    "POST /auth/forgot-password",
    "POST /auth/reset-password",
    "POST /auth/request-verify-token",
    "POST /auth/verify",
}
OWN_ERROR_MODELS = {"NotAuthenticated", "HealthFailure"}  # both carry error_code and detail too


def test_error_responses_are_declared_in_the_error_shape(fuzz_schema: Any) -> None:
    raw = fuzz_schema.raw_schema
    assert "HTTPValidationError" not in json.dumps(raw)
    assert set(raw["components"]["schemas"]["ErrorBody"]["required"]) == {"error_code", "detail"}
    for path, methods in raw["paths"].items():
        for method, operation in methods.items():
            label = f"{method.upper()} {path}"
            responses = operation["responses"]
            for status, response in responses.items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                    assert ref == "ErrorBody" or ref in OWN_ERROR_MODELS, (label, status)
            assert {"413", "503"} <= responses.keys(), label
            if "requestBody" in operation:
                assert {"400", "403", "415", "422"} <= responses.keys(), label  # 403: CSRF is on here
            if label in RATE_LIMITED:
                assert "Retry-After" in responses["429"]["headers"], label
    tts_audio = raw["paths"]["/ai/tts"]["post"]["responses"]["200"]["content"]
    assert set(tts_audio) == {"audio/mpeg", "audio/ogg", "audio/mp4", "audio/webm"}
