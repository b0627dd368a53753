from __future__ import annotations

from backend.core.errors import BadRequest


class CodeInvalid(BadRequest):
    error_code = "CODE_INVALID"
    default_detail = "Неверный код."


class CodeExpired(BadRequest):
    error_code = "CODE_EXPIRED"
    default_detail = "Код истёк или не запрашивался. Запросите новый."


class CodeAttemptsExceeded(BadRequest):
    error_code = "CODE_ATTEMPTS_EXCEEDED"
    default_detail = "Слишком много неверных попыток: код аннулирован. Запросите новый."
