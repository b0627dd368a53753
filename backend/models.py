"""Imports every domain's models so that metadata (Alembic, tests) sees all tables. Nothing else."""

from backend.auth.models import ChatSession, User
from backend.chat.models import FunnelEvent, Message
from backend.core.orm import Base
from backend.leads.models import LeadEvent
from backend.voice.models import AudioEvent

__all__ = ["AudioEvent", "Base", "ChatSession", "FunnelEvent", "LeadEvent", "Message", "User"]
