from __future__ import annotations

from backend.core.errors import Conflict


class TurnInProgress(Conflict):
    error_code = "TURN_IN_PROGRESS"
    default_detail = "Я ещё отвечаю на предыдущее сообщение. Дождитесь ответа и отправьте снова."
