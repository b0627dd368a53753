from __future__ import annotations

from backend.core.errors import Conflict, NotFound


class TurnInProgress(Conflict):
    error_code = "TURN_IN_PROGRESS"
    default_detail = "Я ещё отвечаю на предыдущее сообщение. Дождитесь ответа и отправьте снова."


class SessionChanged(Conflict):
    """The session ended while this turn waited for the previous one (a sign-in rotated it, or a log-out)."""

    error_code = "SESSION_CHANGED"
    default_detail = "Сессия только что обновилась (например, вы вошли в аккаунт). Отправьте сообщение ещё раз."


class MessageNotFound(NotFound):
    error_code = "MESSAGE_NOT_FOUND"
    default_detail = "Сообщение не найдено в этом диалоге."
