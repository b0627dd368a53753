"""One chat turn around the engine, as one unit of work on the caller's ``AsyncSession``.

Order: take the session's turn lock (turns of one session never overlap); reload the session state
(another turn may just have changed it); store the visitor's message and commit it at once (SPEC:
it persists before anything slow or fallible); run the engine; count the OFFTOPIC quota; add the
reply. A conversation handed to a human (``chat.handoff``: waiting or taken) skips the engine; a
request for a person, or a second fallback in a row, hands it over. Everything after the message only flushes: the caller's unit of work commits the reply, the
funnel's account and stage change together, then releases the lock, writing the Redis state in the same
round trip.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from backend.assistant.context import Caller
from backend.assistant.contract import Reply, Scenario
from backend.assistant.engine import TurnEngine, TurnInput
from backend.assistant.loop import StreamSink
from backend.auth.accounts import access_of
from backend.auth.models import User
from backend.auth.sessions import SessionState, SessionStore, ensure_stored
from backend.chat import repository
from backend.chat.accounts import FunnelAccounts
from backend.chat.exceptions import SessionChanged
from backend.chat.handoff import HANDOFF_TEXT, SILENT_STATES, WAITING_TEXT, Handoff, asks_for_person, handoff_reply
from backend.chat.turns import HeldTurn, TurnLock
from backend.core.config import Settings
from backend.core.database import commit, on_close
from backend.limits.service import OfftopicQuota
from backend.metrics.instruments import record_turn

logger = logging.getLogger(__name__)


def build_caller(user: User | None, settings: Settings) -> Caller:
    """Who is talking, and whether ANALYTICS is open to them (trial, subscription or whitelist)."""
    if user is None:
        return Caller(user_id=None)
    access = access_of(user, settings)
    return Caller(
        user_id=user.id, email=user.email, has_access=access.open, access=access.state.value, access_until=access.until
    )


@dataclass
class ChatResult:
    reply: Reply
    login_user_id: uuid.UUID | None
    message_id: uuid.UUID
    state: SessionState  # the session as the turn left it (saved to Redis after the commit)


class _Buffered:
    """A stream that holds the text back until the turn is known not to hit the OFFTOPIC quota."""

    def __init__(self, target: StreamSink) -> None:
        self.target = target
        self.events: list[str | None] = []  # a chunk, or None for a reset

    async def delta(self, text: str) -> None:
        self.events.append(text)

    async def reset(self) -> None:
        self.events.append(None)

    async def flush(self) -> None:
        for event in self.events:
            await (self.target.reset() if event is None else self.target.delta(event))
        self.events.clear()


class ChatService:
    def __init__(
        self,
        *,
        engine: TurnEngine,
        store: SessionStore,
        redis: aioredis.Redis,
        offtopic: OfftopicQuota,
        settings: Settings,
    ) -> None:
        self._engine = engine
        self._store = store
        self._redis = redis
        self._offtopic = offtopic
        self._settings = settings

    def turn_lock(self, sid: str, *, wait_seconds: float | None = None) -> TurnLock:
        return TurnLock(
            self._redis,
            sid,
            expire_seconds=self._settings.TURN_LOCK_SECONDS,
            wait_seconds=self._settings.TURN_WAIT_SECONDS if wait_seconds is None else wait_seconds,
        )

    async def handle(
        self,
        db: AsyncSession,
        text: str,
        state: SessionState,
        caller: Caller,
        stream: StreamSink | None = None,
        *,
        turn: HeldTurn | None = None,
        wait_seconds: float | None = None,
    ) -> ChatResult:
        """One turn in ``db``'s unit of work (the caller commits).

        Takes the session's turn lock and releases it when the unit of work ends, or uses ``turn``'s,
        already held (with the state read when it was taken) and released by the caller. Raises 409
        TURN_IN_PROGRESS when the session's previous turn does not finish within ``wait_seconds``
        (default TURN_WAIT_SECONDS)."""
        if turn is None:
            lock = self.turn_lock(state.sid, wait_seconds=wait_seconds)
            # The state the previous turn left comes in the round trip that takes the lock.
            turn = HeldTurn(lock, await lock.acquire(read=self._store.key(state.sid)))
            on_close(db, lock.release)  # with the state after the commit, or alone after a rollback
        stored = self._store.parse(state.sid, turn.stored)
        started = time.perf_counter()  # server time: waiting for the lock is not work
        if stored is None and not state.is_new:
            # The previous turn ended this session (a sign-in gave it a new id, or a log-out): this turn,
            # sent with the old cookie (a double submit, a second tab), is refused before anything is stored.
            raise SessionChanged
        if stored is not None and stored.chat_session_id == state.chat_session_id:
            state.data = stored.data  # what the previous turn of this session left

        await ensure_stored(db, state)  # the session's first message: its row first
        # The history and the visitor's message in one statement (one round trip when nothing is pending).
        recent, message = await repository.recent_and_add(
            db, session_id=state.chat_session_id, user_id=state.user_id, text=text, limit=self._settings.HISTORY_TURNS
        )
        # The handoff state and the last reply's fallback flag came with the history; PostgreSQL is asked
        # only when it could not tell (another driver and no message yet; no assistant message among the
        # newest), and before the commit: a query after it would hold a pooled connection through the model call.
        handoff = Handoff(db, self._settings)
        handoff_state = recent.handoff_state or await handoff.state(state.chat_session_id)
        previous_fell_back = recent.last_fell_back
        if previous_fell_back is None:
            previous_fell_back = await handoff.last_fell_back(state.chat_session_id)
        await commit(db)  # the visitor's message (and a new session's row) persist before anything can fail
        # The state this turn leaves, once its reply is stored: written in the round trip releasing the lock.
        turn.lock.write_on_release(db, self._store.key(state.sid), state.to_json, self._store.ttl_seconds)

        if handoff_state in SILENT_STATES:  # a human answers this conversation: no model call
            return await self._handoff_turn(db, state, message.id, WAITING_TEXT, "handoff_waiting")
        if asks_for_person(text):
            await handoff.request(state.chat_session_id, state.user_id, reason="asked", text=text)
            return await self._handoff_turn(db, state, message.id, HANDOFF_TEXT, "handoff")

        # A stream must not show small talk that the OFFTOPIC quota then refuses: when the quota has no
        # room left, the text waits until the reply is known not to be OFFTOPIC.
        buffered = None
        if stream is not None and not await self._offtopic.has_room(state.sid):
            buffered = stream = _Buffered(stream)
        given = TurnInput(
            text=text,
            sid=state.sid,
            chat_session_id=state.chat_session_id,
            caller=caller,
            session_data=state.data,
            accounts=FunnelAccounts(db, self._settings),
            history=recent.history,
        )
        output = await self._engine.run(given, stream)
        if output.reply.scenario == Scenario.OFFTOPIC:
            await self._offtopic.count(state.sid)
        if buffered is not None:
            await buffered.flush()
        if output.meta.get("fallback") and previous_fell_back:  # two fallbacks in a row: a human steps in
            await handoff.request(state.chat_session_id, state.user_id, reason="fallbacks", text=text)
            if stream is not None:
                await stream.reset()
            output.reply = handoff_reply(HANDOFF_TEXT, "handoff")
            output.meta["handoff"] = "fallbacks"
        await repository.add_message(
            db,
            session_id=state.chat_session_id,
            user_id=output.login_user_id or state.user_id,
            role="assistant",
            text=output.reply.reply,
            scenario=output.reply.scenario.value,
            meta=output.meta | {"reply": output.reply.model_dump(mode="json", exclude={"reply"})},
        )
        prices = (self._settings.LLM_PRICE_INPUT_PER_MTOK, self._settings.LLM_PRICE_OUTPUT_PER_MTOK)
        record_turn(output.meta, prices, time.perf_counter() - started)
        logger.info(
            "chat turn",
            extra={k: output.meta[k] for k in ("scenario", "action", "provider", "fallback", "latency_ms")},
        )
        return ChatResult(reply=output.reply, login_user_id=output.login_user_id, message_id=message.id, state=state)

    async def _handoff_turn(
        self, db: AsyncSession, state: SessionState, message_id: uuid.UUID, text: str, action: str
    ) -> ChatResult:
        reply = handoff_reply(text, action)
        await repository.add_message(
            db,
            session_id=state.chat_session_id,
            user_id=state.user_id,
            role="assistant",
            text=reply.reply,
            scenario=reply.scenario.value,
            meta={"handoff": action, "reply": reply.model_dump(mode="json", exclude={"reply"})},
        )
        logger.info("chat turn", extra={"scenario": reply.scenario.value, "action": action})
        return ChatResult(reply=reply, login_user_id=None, message_id=message_id, state=state)
