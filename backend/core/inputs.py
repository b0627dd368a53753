"""Input hygiene shared by every route: the body's media type and text fields PostgreSQL can store.

* :func:`require_body_media_type` (an app-wide dependency) answers 415 when a request with a body
  does not send the media type the route reads (JSON, or a form for uploads), instead of a
  misleading 422 "Input should be a valid dictionary".
* :data:`StoredText` rejects NUL characters (422): PostgreSQL ``text`` cannot hold ``\\x00``, and
  letting one through turned a visitor's typo into a 503 "storage unavailable".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from pydantic import AfterValidator

from backend.core.errors import UnsupportedMediaType

_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})  # FastAPI reads either


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


StoredText = Annotated[str, AfterValidator(_no_nul)]


def _accepts(expected: str, sent: str) -> bool:
    if expected == "application/json":
        return sent == "application/json" or (sent.startswith("application/") and sent.endswith("+json"))
    if expected in _FORMS:
        return sent in _FORMS
    return sent == expected


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


async def require_body_media_type(request: Request) -> None:
    """415 ``UNSUPPORTED_MEDIA_TYPE`` for a body the route cannot read. Runs before body validation
    and before the route's own dependencies (rate limits), so a wrong type costs nothing."""
    if request.method not in _METHODS_WITH_BODY:
        return
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None:
        return
    expected = getattr(body_field.field_info, "media_type", "application/json")
    sent = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not sent and not _has_body(request):
        return  # no body at all: validation answers 422 "field required"
    if not _accepts(expected, sent):
        raise UnsupportedMediaType(
            f"Тело запроса должно быть {expected} (получено: {sent or 'без Content-Type'}).",
            error_code="UNSUPPORTED_MEDIA_TYPE",
        )
