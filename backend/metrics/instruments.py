"""The Prometheus instruments and the few functions that feed them.

Per process by default. When the ``PROMETHEUS_MULTIPROC_DIR`` environment variable names a
directory shared by the API workers and the Celery workers of one host (the embedded launcher and
the systemd units set it), every process writes there and ``/metrics`` aggregates them, so task
durations measured in the workers show up next to the API's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Histogram

from backend.core.errors import AppError

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter("leadinc_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "leadinc_http_request_duration_seconds", "HTTP request latency", ["method", "route"], buckets=LATENCY_BUCKETS
)
TURNS = Counter("leadinc_chat_turns_total", "Chat turns", ["scenario", "provider"])
FALLBACKS = Counter("leadinc_chat_fallbacks_total", "Turns answered by the offline model after a model failure")
TOOL_CALLS = Counter("leadinc_tool_calls_total", "Tool calls made by the model", ["tool"])
TOKENS = Counter("leadinc_llm_tokens_total", "Language-model tokens", ["provider", "kind"])
COST = Counter("leadinc_llm_cost_usd_total", "Estimated language-model cost in USD", ["provider"])
FUNNEL = Counter("leadinc_funnel_transitions_total", "Registration funnel transitions", ["from_stage", "to_stage"])
LIMIT_REJECTIONS = Counter("leadinc_limit_rejections_total", "Requests refused by a limit (429)", ["error_code"])
LOGIN_FAILURES = Counter(
    "leadinc_login_failures_total", "Failed logins on /auth/jwt/login_custom", ["method", "error_code"]
)
TURN_SERVER_TIME = Histogram(
    "leadinc_turn_server_seconds",
    "Server time per chat turn (from the turn lock to the stored reply), excluding the wait for a remote model",
    ["provider"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
TASKS = Counter("leadinc_tasks_total", "Background tasks finished", ["queue", "task", "state"])
TASK_DURATION = Histogram(
    "leadinc_task_duration_seconds", "Background task run time", ["queue", "task"], buckets=LATENCY_BUCKETS
)


def record_turn(meta: Mapping[str, Any], price_per_mtok: tuple[float, float], elapsed: float) -> None:
    """Count one finished turn from the metadata the engine stored with the reply; ``elapsed`` is the
    turn's wall time, of which the engine's ``model_wait_ms`` was spent waiting on a remote model."""
    provider = str(meta.get("provider") or "unknown")
    TURNS.labels(str(meta.get("scenario") or "unknown"), provider).inc()
    TURN_SERVER_TIME.labels(provider).observe(max(0.0, elapsed - float(meta.get("model_wait_ms") or 0) / 1000))
    if meta.get("fallback"):
        FALLBACKS.inc()
    for call in meta.get("tool_calls") or []:
        TOOL_CALLS.labels(str(call.get("name") if isinstance(call, Mapping) else call)).inc()
    usage = meta.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    if prompt or completion:
        TOKENS.labels(provider, "prompt").inc(prompt)
        TOKENS.labels(provider, "completion").inc(completion)
        COST.labels(provider).inc((prompt * price_per_mtok[0] + completion * price_per_mtok[1]) / 1_000_000)


def record_funnel(from_stage: int | None, to_stage: int | None) -> None:
    FUNNEL.labels(str(from_stage or 0), str(to_stage or 0)).inc()


def record_limit(error_code: str) -> None:
    LIMIT_REJECTIONS.labels(error_code).inc()


def observe_app_error(error: AppError) -> None:
    """Every domain error the API answers: rate-limit rejections are counted by code."""
    if error.status_code == 429:
        record_limit(error.error_code)


def record_login_failure(method: str, error_code: str) -> None:
    LOGIN_FAILURES.labels(method, error_code).inc()


def record_task(queue: str, task: str, state: str, seconds: float | None) -> None:
    TASKS.labels(queue, task, state).inc()
    if seconds is not None:
        TASK_DURATION.labels(queue, task).observe(seconds)
