"""Handoff to a human manager: the rules.

A conversation is in one of four states (``chat_sessions.handoff_state``): *assistant* (the model
answers), *waiting* (a visitor asked for a person, or two turns in a row fell back; the team is told
through the lead outbox and, when ``ADMIN_EMAIL`` is set, a mail), *taken* (a manager answers from the
console), *closed*. While waiting or taken the assistant is silent: the visitor's messages are stored
and the reply only says a manager will answer (no model call). A manager releases the conversation
back to the assistant when done.

All writes flush only, in the caller's unit of work: the state change and the outbox row commit with
the turn, or not at all.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.assistant.contract import Reply, Scenario
from backend.auth import repository as sessions
from backend.chat import repository
from backend.chat.exceptions import MessageNotFound
from backend.chat.notices import schedule_handoff_notice
from backend.chat.schemas import ChatMessage, NewMessages
from backend.core.config import Settings
from backend.core.orm import utcnow
from backend.leads.service import LeadOutbox


class HandoffState(StrEnum):
    ASSISTANT = "assistant"
    WAITING = "waiting"
    TAKEN = "taken"
    CLOSED = "closed"


SILENT_STATES = (HandoffState.WAITING.value, HandoffState.TAKEN.value)

HANDOFF_TEXT = (
    "Передаю разговор менеджеру — он подключится и ответит здесь, в этом чате. "
    "Пока ждёте, можете описать вопрос подробнее: менеджер увидит всё, что вы напишете."
)
TIMEOUT_TEXT = (
    "Менеджеры сейчас заняты и ответят в рабочее время, обычно в течение дня. Ответ появится здесь, в этом чате."
)
ASK_CONTACT_TEXT = " Оставьте, пожалуйста, e-mail или телефон — так мы сможем ответить, даже если вы закроете страницу."
TIMEOUT_BATCH = 200  # conversations told per beat run at most
WAITING_TEXT = "Сообщение передано менеджеру, он ответит здесь, в этом чате."

# A person: the nouns a visitor uses for a human on the other side, in the singular (any case); the
# plural is the visitor's own team ("подключить к кабинету сотрудников").
_PERSON = (
    r"(?:(?:менеджер|оператор|сотрудник|специалист|консультант)(?:а|у|ом|е)?\b"
    r"|челове(?:к|ка|ку|ком|ке)\b|живо\w+\s+челове\w*)"
)
# Verbs of calling or connecting (imperative, infinitive): the person may come a few words later.
_CALL = r"(?:позов\w*|позв\w*|подключ\w*|соедин\w*|переключ\w*|переведи\w*|переведите|свяж\w*|дайте|дай)"
# Wanting a person: the person comes right after ("нужен менеджер", "можно оператора?"), after one
# qualifying word ("нужен живой человек"), or after a verb of contacting ("хочу написать менеджеру").
# Any other verb makes the person an object of the visitor's own action, not someone to talk to:
# "можно добавить сотрудников?", "можно дать менеджеру доступ?".
_WANT = r"(?:нужен|нужна|нужно|хочу|хотим|хотел\w*|можно|давайте)"
_CONTACT = r"(?:написать|позвонить|обратиться\s+к|задать\s+вопрос)"
_INFINITIVE = r"\w+(?:ть|ти|чь)(?:ся|сь)?"
_ASKS = re.compile(
    rf"\b{_CALL}\b[^.?!]{{0,40}}?\b{_PERSON}"  # "позовите менеджера", "соедините, пожалуйста, с оператором"
    rf"|\b{_WANT}\s+(?:(?!{_INFINITIVE}\s)\w+\s+|{_CONTACT}\s+)?{_PERSON}"  # "нужен живой человек", "хочу оператора"
    rf"|\b(?:поговорить|пообщаться|связаться|говорить)\s+(?:\w+\s+){{0,2}}?с\s+(?:\w+\s+)?{_PERSON}"
    rf"|^\s*(?:{_PERSON})\s*[!?.]*\s*$",  # just "оператор!" or "менеджер?"
    re.IGNORECASE,
)


def asks_for_person(text: str) -> bool:
    """Whether the visitor asks for a human (a manager, an operator, a living person)."""
    return _ASKS.search(text.replace("ё", "е").replace("Ё", "Е")) is not None


def handoff_reply(text: str, action: str) -> Reply:
    return Reply(scenario=Scenario.FAQ, action=action, reply=text)


class Handoff:
    """Handoff state changes in the caller's unit of work (flush only)."""

    def __init__(self, db: AsyncSession, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    async def state(self, chat_session_id: uuid.UUID) -> str:
        return await repository.handoff_state(self._db, chat_session_id) or HandoffState.ASSISTANT.value

    async def last_fell_back(self, chat_session_id: uuid.UUID) -> bool:
        return await repository.last_assistant_fell_back(self._db, chat_session_id)

    async def new_messages(self, chat_session_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> NewMessages:
        """The conversation's messages after the message ``after`` (its own: another conversation's id
        is not found), for the chat page that polls while a human answers."""
        since = None
        if after is not None:
            at = await repository.message_time(self._db, chat_session_id, after)
            if at is None:
                raise MessageNotFound
            since = (at, after)
        rows = await repository.messages_after(self._db, chat_session_id, since, limit)
        return NewMessages(
            handoff_state=await self.state(chat_session_id),
            messages=[
                ChatMessage(
                    id=m.id,
                    role=m.role,
                    text=m.text,
                    created_at=m.created_at,
                    manager="manager" in (m.meta or {}),
                    notice=(m.meta or {}).get("handoff") == "timeout",
                )
                for m in rows
            ],
        )

    async def request(self, chat_session_id: uuid.UUID, user_id: uuid.UUID | None, *, reason: str, text: str) -> None:
        """The conversation waits for a human; the team is told after the commit."""
        await repository.change_handoff(self._db, chat_session_id, to=HandoffState.WAITING.value, by=None, at=utcnow())
        await LeadOutbox(self._db, self._settings).record_handoff(
            session_id=chat_session_id,
            user_id=user_id,
            reason=reason,
            text=text,
            visit=await sessions.visit_of(self._db, chat_session_id),
        )
        schedule_handoff_notice(self._db, self._settings, chat_session_id, reason)

    async def take(self, chat_session_id: uuid.UUID, manager_id: uuid.UUID | None) -> bool:
        """Only from *waiting* or *assistant*: of two managers taking at once, exactly one wins."""
        return await repository.change_handoff(
            self._db,
            chat_session_id,
            to=HandoffState.TAKEN.value,
            by=manager_id,
            at=utcnow(),
            only_from=(HandoffState.WAITING.value, HandoffState.ASSISTANT.value),
        )

    async def release(self, chat_session_id: uuid.UUID) -> bool:
        return await repository.change_handoff(
            self._db, chat_session_id, to=HandoffState.ASSISTANT.value, by=None, at=utcnow()
        )

    async def close(self, chat_session_id: uuid.UUID) -> bool:
        return await repository.change_handoff(
            self._db, chat_session_id, to=HandoffState.CLOSED.value, by=None, at=utcnow()
        )


def tell_overdue(db: Session, settings: Settings, now: datetime | None = None) -> int:
    """The beat's rule (the worker's sync session, flush only): every conversation waiting longer than
    ``HANDOFF_TIMEOUT_MINUTES`` gets one message saying when the team answers, asking for a contact
    when none is known; the open chat page shows it through /ai/messages. Returns how many."""
    if settings.HANDOFF_TIMEOUT_MINUTES <= 0:
        return 0
    moment = now or utcnow()
    overdue = repository.overdue_handoffs(
        db, moment - timedelta(minutes=settings.HANDOFF_TIMEOUT_MINUTES), TIMEOUT_BATCH
    )
    for session_id, contact_known in overdue:
        text = TIMEOUT_TEXT if contact_known else TIMEOUT_TEXT + ASK_CONTACT_TEXT
        repository.add_message_sync(db, session_id=session_id, role="assistant", text=text, meta={"handoff": "timeout"})
    return len(overdue)
