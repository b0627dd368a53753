"""Limits that are not request dependencies: the OFFTOPIC quota, counted per session after a turn
turns out to be small talk (SPEC section 5)."""

from __future__ import annotations

from backend.core.ratelimit import RateLimiter

OFFTOPIC_DETAIL = (
    "Давайте вернёмся к делу: лимит разговоров на отвлечённые темы на сегодня исчерпан (ещё {seconds} с). "
    "Спросите о заявках, тарифах или аналитике по нише."
)


class OfftopicQuota:
    """OFFTOPIC replies per session. ``has_room`` peeks (a stream asks it before its first delta);
    ``count`` counts one reply or raises 429 OFFTOPIC_LIMIT."""

    def __init__(self, limiter: RateLimiter, rule: str) -> None:
        self._limiter = limiter
        self._rule = rule

    async def has_room(self, sid: str) -> bool:
        return await self._limiter.allows(RateLimiter.rule(self._rule), "offtopic", sid)

    async def count(self, sid: str) -> None:
        await self._limiter.enforce(self._rule, OFFTOPIC_DETAIL, "OFFTOPIC_LIMIT", "offtopic", sid)
