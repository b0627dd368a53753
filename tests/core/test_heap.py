"""A running API process leaves its startup heap out of garbage collections, and frees it at shutdown."""

from __future__ import annotations

import gc

from backend.core.config import Settings
from backend.core.heap import THRESHOLDS
from backend.main import create_app


async def test_the_startup_heap_is_frozen_while_the_app_runs_and_collectable_after(settings: Settings) -> None:
    before = gc.get_threshold()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # the knowledge index, the router and every module: far more than a request creates
        assert gc.get_freeze_count() > 100_000
        assert gc.get_threshold() == THRESHOLDS
        gc.collect()
        assert gc.get_freeze_count() > 100_000  # collections leave it alone
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
