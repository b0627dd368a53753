"""Double-submit-cookie CSRF (starlette-csrf), answering in the SPEC error shape.

How a client gets the token: any response sets the ``csrftoken`` cookie (readable by JS); send
its value back in the ``X-CSRFToken`` header on POST/PUT/PATCH/DELETE requests that carry the
session or auth cookie.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette_csrf.middleware import CSRFMiddleware


class JsonCSRFMiddleware(CSRFMiddleware):
    def _get_error_response(self, request: Request) -> Response:
        body = {
            "error_code": "CSRF_FAILED",
            "detail": "CSRF-токен отсутствует или неверен. Обновите страницу.",
        }
        return Response(json.dumps(body, ensure_ascii=False), status_code=403, media_type="application/json")
