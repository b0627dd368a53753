from __future__ import annotations

from backend.core.errors import Conflict, NotFound


class ConversationNotFound(NotFound):
    error_code = "CONVERSATION_NOT_FOUND"
    default_detail = "Диалог не найден."


class ConversationTaken(Conflict):
    error_code = "CONVERSATION_TAKEN"
    default_detail = "Диалог уже взял другой менеджер."
