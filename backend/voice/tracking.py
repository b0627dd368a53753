"""Who owns a background task, and how far it got.

When a task is started, a record ``leadinc:task:<task_id>`` → ``{sid, chat_session_id, kind, steps}``
goes to Redis (same lifetime as Celery results). Only the session that created it may read its
status; for anyone else it does not exist (404). Status comes from the Celery result backend, step
by step, with the partial result (transcript first, then the reply, then the audio URL).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import anyio
import redis.asyncio as aioredis

from backend.core.celery import RESULT_EXPIRES_SECONDS, LeadincCelery
from backend.voice.constants import STEP_NAMES, TASK_KEY_PREFIX
from backend.voice.dispatch import Step, TaskPlan
from backend.voice.exceptions import TaskNotFound
from backend.voice.schemas import OverallState, StepStatus, TaskError, TaskResult, TaskState, TaskStatusOut

_STATES: dict[str, TaskState] = {
    "PENDING": "queued",
    "RECEIVED": "queued",
    "STARTED": "running",
    "RETRY": "retrying",
    "SUCCESS": "done",
    "FAILURE": "failed",
    "REVOKED": "failed",
    "REJECTED": "failed",
}
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    kind: str
    sid: str
    chat_session_id: str
    steps: list[Step]


def _error_of(state: str, info: Any) -> TaskError:
    if state == "REVOKED":
        return TaskError(
            error_code="TASK_EXPIRED", detail="Задача не была начата вовремя и отменена. Повторите запрос."
        )
    code = getattr(info, "error_code", None)
    detail = getattr(info, "detail", None)
    if isinstance(code, str) and isinstance(detail, str):
        return TaskError(error_code=code, detail=detail)
    return TaskError(error_code="TASK_FAILED", detail="Не удалось выполнить задачу. Попробуйте ещё раз.")


class TaskTracker:
    def __init__(self, redis: aioredis.Redis, celery: LeadincCelery) -> None:
        self._redis = redis
        self._celery = celery

    async def register(self, plan: TaskPlan, sid: str, chat_session_id: str) -> None:
        record = {
            "kind": plan.kind,
            "sid": sid,
            "chat_session_id": chat_session_id,
            "steps": [[step.name, step.id] for step in plan.steps],
        }
        await self._redis.set(TASK_KEY_PREFIX + plan.task_id, json.dumps(record), ex=RESULT_EXPIRES_SECONDS)

    async def owned(self, task_id: str, sid: str) -> TaskRecord:
        """The record of a task this session created; ``TaskNotFound`` for anything else."""
        if not task_id or len(task_id) > MAX_ID_LENGTH:
            raise TaskNotFound()
        raw = await self._redis.get(TASK_KEY_PREFIX + task_id)
        if not raw:
            raise TaskNotFound()
        data = json.loads(raw)
        if not secrets.compare_digest(str(data.get("sid", "")), sid):
            raise TaskNotFound()
        return TaskRecord(
            task_id=task_id,
            kind=data["kind"],
            sid=data["sid"],
            chat_session_id=data["chat_session_id"],
            steps=[Step(name=name, id=step_id) for name, step_id in data["steps"]],
        )

    async def status(self, record: TaskRecord) -> TaskStatusOut:
        return await anyio.to_thread.run_sync(self._collect, record)

    def _collect(self, record: TaskRecord) -> TaskStatusOut:
        steps: list[StepStatus] = []
        result = TaskResult()
        error: TaskError | None = None
        for step in record.steps:
            name = STEP_NAMES[step.name]
            if error is not None:  # a chain stops at its first failure
                steps.append(StepStatus(name=name, status="skipped"))
                continue
            async_result = self._celery.AsyncResult(step.id)
            state = str(async_result.state)
            steps.append(StepStatus(name=name, status=_STATES.get(state, "running")))
            if state == "SUCCESS":
                _merge(result, async_result.result)
            elif state in ("FAILURE", "REVOKED", "REJECTED"):
                error = _error_of(state, async_result.info)
        overall = _overall([step.status for step in steps], error is not None)
        return TaskStatusOut(
            task_id=record.task_id,
            kind=record.kind,
            status=overall,
            steps=steps,
            result=result,
            error=error,
        )


def _merge(result: TaskResult, value: Any) -> None:
    if not isinstance(value, dict):
        return
    if isinstance(value.get("text"), str) and "reply" not in value and "audio_url" not in value:
        result.transcript = value["text"]  # the stt step
    if isinstance(value.get("transcript"), str):
        result.transcript = value["transcript"]
    if isinstance(value.get("reply"), dict):
        result.reply = value["reply"]
    if isinstance(value.get("audio_url"), str):
        result.audio_url = value["audio_url"]


def _overall(states: list[TaskState], failed: bool) -> OverallState:
    if failed:
        return "failed"
    if states and states[-1] == "done":
        return "done"
    if any(state != "queued" for state in states):
        return "running"
    return "queued"
