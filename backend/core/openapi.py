"""Error responses in the OpenAPI schema, declared once so the schema matches what the API answers.

Routes declare the errors their own rules raise with ``responses=error_responses(401, 403)``.
Errors that come from the cross-cutting layers are added to every operation by
:func:`install_openapi`: 413 (body cap) and 503 (storage down) everywhere, 422 wherever FastAPI
validates input (replacing FastAPI's ``HTTPValidationError``, which is not our shape), 400 and 415
for malformed or mistyped bodies and — with CSRF on — 403 ``CSRF_FAILED`` on every POST.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

UPPER_SNAKE = r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$"


class FieldError(BaseModel):
    loc: list[str]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The one error shape of SPEC.md section 3 (some errors add a field or two)."""

    error_code: str = Field(pattern=UPPER_SNAKE, examples=["VALIDATION_ERROR"])
    detail: str = Field(min_length=1, description="Human text (Russian)")
    errors: list[FieldError] | None = Field(default=None, description="422 VALIDATION_ERROR: every failed field")
    retry_after: int | None = Field(default=None, description="429: seconds until the next attempt")
    attempts_left: int | None = Field(default=None, description="400 CODE_INVALID: attempts before the code burns")


DESCRIPTIONS: dict[int, str] = {
    400: "Malformed body (MALFORMED_JSON) or a rejected request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body over the limit (PAYLOAD_TOO_LARGE)",
    415: "Unsupported media type",
    422: "Input failed validation (VALIDATION_ERROR lists every failed field)",
    429: "Rate limited; Retry-After says when to come back",
    503: "A dependency (database, Redis, queue, provider) is unavailable; retry later",
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}}


def error_responses(*statuses: int, descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status answers :class:`ErrorBody`; ``descriptions`` override
    the default text of a status with what it means on that route."""
    texts = {**DESCRIPTIONS, **(descriptions or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {"model": ErrorBody, "description": texts.get(status, "Error")}
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        responses[status] = response
    return responses


def _reference(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def _document_operation(method: str, operation: dict[str, Any], csrf: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "HTTPValidationError" in str(responses.get("422", "")):  # FastAPI's default, not our shape
        responses["422"] = _reference(422)
    extra = [413, 503]
    if operation.get("requestBody"):
        extra += [400, 415]
    if csrf and method == "post":
        extra.append(403)
    for status in extra:
        responses.setdefault(str(status), _reference(status))
    operation["responses"] = dict(sorted(responses.items()))


def build_openapi(app: FastAPI, *, csrf: bool) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for methods in schema.get("paths", {}).values():
        for method, operation in methods.items():
            _document_operation(method, operation, csrf)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    definitions = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(definitions.pop("$defs", {}))
    components["ErrorBody"] = definitions
    return schema


def install_openapi(app: FastAPI, *, csrf: bool) -> None:
    """Replace ``app.openapi`` with :func:`build_openapi` (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, csrf=csrf)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
