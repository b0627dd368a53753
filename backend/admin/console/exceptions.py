from __future__ import annotations

from backend.core.errors import NotFound


class ConversationNotFound(NotFound):
    error_code = "CONVERSATION_NOT_FOUND"
    default_detail = "Диалог не найден."
