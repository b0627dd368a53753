"""Chat limits (SPEC section 5): anti-flood and daily quotas per session, per user and per client IP.
Redis down means 503, never silently unlimited."""

from __future__ import annotations

from fastapi import Depends, Request

from backend.auth.dependencies import CurrentSession, CurrentUserOptional
from backend.auth.models import User
from backend.core.client_ip import request_ip
from backend.core.config import Settings
from backend.core.dependencies import LimiterDep, SettingsDep
from backend.core.ratelimit import Limit, RateLimiter


def chat_limits(settings: Settings, sid: str, user: User | None, ip: str) -> list[Limit]:
    """The burst limits per session and per IP, then the daily quotas per account (or guest session) and
    per IP, in the order they are counted: the first one over its rule answers 429 and the ones after it
    are not counted."""
    flood = "Слишком много сообщений подряд. Подождите {seconds} с и продолжим."
    daily = "Дневной лимит сообщений исчерпан. Продолжим через {seconds} с"
    if user is not None:
        own = Limit(settings.RATE_DAILY_USER, daily + ".", "DAILY_LIMIT", ("daily-user", str(user.id)))
    else:
        guest = daily + " — или зарегистрируйтесь, у пользователей лимит выше."
        own = Limit(settings.RATE_DAILY_GUEST, guest, "DAILY_LIMIT", ("daily-guest", sid))
    return [
        Limit(settings.RATE_BURST, flood, "FLOOD_LIMIT", ("burst", sid)),
        Limit(settings.RATE_BURST_IP, flood, "FLOOD_LIMIT", ("burst-ip", ip)),
        own,
        Limit(settings.RATE_DAILY_IP, daily + ".", "DAILY_LIMIT", ("daily-ip", ip)),
    ]


async def enforce_chat_limits(limiter: RateLimiter, settings: Settings, sid: str, user: User | None, ip: str) -> None:
    """``chat_limits`` counted in one Redis round trip (the chat endpoints count them in the round trip
    that opens the turn: ``chat.turns.TurnLock.open``)."""
    await limiter.enforce_all(chat_limits(settings, sid, user, ip))


async def chat_rate_limit(
    request: Request, session: CurrentSession, user: CurrentUserOptional, limiter: LimiterDep, settings: SettingsDep
) -> None:
    await enforce_chat_limits(limiter, settings, session.sid, user, request_ip(request, settings))


# The voice routes' dependency (the chat routes count the same limits inside ``chat.dependencies.chat_call``).
ChatRateLimited = Depends(chat_rate_limit)
