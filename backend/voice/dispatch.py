"""Building and sending the background work of the voice endpoints. No HTTP here.

A voice upload is a chain across the queues: ``voice.stt`` (audio) → ``chat.process_text`` (text) →
``voice.tts`` (audio, only when a voice reply is asked for). Step ids are chosen up front, so the
task record can list them before anything runs; the public task id is the last step's id, whose
result is the chain's final result. Every message carries an expiry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from celery import chain

from backend.core.celery import LeadincCelery
from backend.voice.constants import TASK_LIMITS


@dataclass(frozen=True)
class Step:
    name: str  # the task name, e.g. "voice.stt"
    id: str


@dataclass
class TaskPlan:
    kind: str  # "voice" (upload chain) or "tts"
    steps: list[Step]
    canvas: Any = field(repr=False)
    event_id: uuid.UUID | None = None  # the upload's audio_events row, if any

    @property
    def task_id(self) -> str:
        return self.steps[-1].id


def _signature(
    app: LeadincCelery, name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
) -> tuple[Step, Any]:
    step = Step(name=name, id=str(uuid.uuid4()))
    signature = app.signature(name, args=args, kwargs=kwargs or {}).set(
        task_id=step.id, expires=TASK_LIMITS[name].expires_seconds
    )
    return step, signature


def voice_chain(
    app: LeadincCelery, *, event_id: uuid.UUID, sid: str, chat_session_id: uuid.UUID, voice_reply: bool, fmt: str
) -> TaskPlan:
    parts = [
        _signature(app, "voice.stt", (str(event_id),)),
        _signature(app, "chat.process_text", (sid,)),  # receives the stt result first
    ]
    if voice_reply:  # receives the chat result first
        parts.append(_signature(app, "voice.tts", (sid, fmt), {"chat_session_id": str(chat_session_id)}))
    return TaskPlan(kind="voice", steps=[step for step, _ in parts], canvas=chain(*(sig for _, sig in parts)))


def speech_task(app: LeadincCelery, *, text: str, sid: str, chat_session_id: uuid.UUID, fmt: str) -> TaskPlan:
    step, signature = _signature(
        app, "voice.tts", ({"text": text}, sid, fmt), {"chat_session_id": str(chat_session_id)}
    )
    return TaskPlan(kind="tts", steps=[step], canvas=signature)


def send(plan: TaskPlan) -> None:
    """Publish the plan (blocking: call it from a worker thread in async code)."""
    plan.canvas.apply_async()
