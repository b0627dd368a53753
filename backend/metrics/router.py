"""``GET /metrics`` in the Prometheus text format, for a scraper on the host or with the token.

Not proxied by the shipped nginx site; from elsewhere it needs ``Authorization: Bearer METRICS_TOKEN``.
"""

from __future__ import annotations

import os
import secrets

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from backend.core.errors import Forbidden

router = APIRouter(tags=["metrics"])

QUEUES = ("text", "audio")
LOOPBACK = {"127.0.0.1", "::1"}


def _allowed(request: Request) -> bool:
    token: str = request.app.state.settings.METRICS_TOKEN
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token and given and secrets.compare_digest(given.encode(), token.encode()):
        return True
    peer = request.client.host if request.client else ""
    return peer in LOOPBACK and "x-forwarded-for" not in request.headers  # direct, not through a proxy


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not _allowed(request):
        raise Forbidden("Метрики доступны только с этого хоста или с токеном.")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    depth = GaugeMetricFamily("leadinc_queue_depth", "Tasks waiting in a Celery queue", labels=["queue"])
    for queue in QUEUES:  # read from the broker at scrape time
        depth.add_metric([queue], await request.app.state.redis.llen(queue))
    scrape = CollectorRegistry()
    scrape.register(_Fixed(depth))
    return Response(body + generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)


class _Fixed(Collector):
    def __init__(self, family: GaugeMetricFamily) -> None:
        self._family = family

    def collect(self) -> list[GaugeMetricFamily]:
        return [self._family]
