"""Chat limits as FastAPI dependencies (SPEC section 5): anti-flood and daily quotas per session,
per user and per client IP. Redis down means 503, never silently unlimited."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.auth.dependencies import CurrentSession, CurrentUserOptional
from backend.core.client_ip import client_ip, parse_networks
from backend.core.dependencies import LimiterDep, SettingsDep
from backend.core.ratelimit import Limit


async def request_ip(request: Request, settings: SettingsDep) -> str:
    return client_ip(request, parse_networks(settings.TRUSTED_PROXIES))


ClientIP = Annotated[str, Depends(request_ip)]


async def chat_rate_limit(
    session: CurrentSession, user: CurrentUserOptional, ip: ClientIP, limiter: LimiterDep, settings: SettingsDep
) -> None:
    """The burst limits per session and per IP, then the daily quotas per account (or guest session) and
    per IP, in that order and in one Redis round trip: the first one over its rule answers 429 and the
    ones after it are not counted."""
    flood = "Слишком много сообщений подряд. Подождите {seconds} с и продолжим."
    daily = "Дневной лимит сообщений исчерпан. Продолжим через {seconds} с"
    if user is not None:
        own = Limit(settings.RATE_DAILY_USER, daily + ".", "DAILY_LIMIT", ("daily-user", str(user.id)))
    else:
        guest = daily + " — или зарегистрируйтесь, у пользователей лимит выше."
        own = Limit(settings.RATE_DAILY_GUEST, guest, "DAILY_LIMIT", ("daily-guest", session.sid))
    await limiter.enforce_all(
        [
            Limit(settings.RATE_BURST, flood, "FLOOD_LIMIT", ("burst", session.sid)),
            Limit(settings.RATE_BURST_IP, flood, "FLOOD_LIMIT", ("burst-ip", ip)),
            own,
            Limit(settings.RATE_DAILY_IP, daily + ".", "DAILY_LIMIT", ("daily-ip", ip)),
        ]
    )


ChatRateLimited = Depends(chat_rate_limit)
