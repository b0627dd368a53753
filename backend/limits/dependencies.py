"""Chat limits as FastAPI dependencies (SPEC section 5): anti-flood and daily quotas per session,
per user and per client IP. Redis down means 503, never silently unlimited."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.auth.dependencies import CurrentSession, CurrentUserOptional
from backend.core.client_ip import client_ip, parse_networks
from backend.core.dependencies import LimiterDep, SettingsDep


async def request_ip(request: Request, settings: SettingsDep) -> str:
    return client_ip(request, parse_networks(settings.TRUSTED_PROXIES))


ClientIP = Annotated[str, Depends(request_ip)]


async def chat_rate_limit(
    session: CurrentSession, user: CurrentUserOptional, ip: ClientIP, limiter: LimiterDep, settings: SettingsDep
) -> None:
    flood = "Слишком много сообщений подряд. Подождите {seconds} с и продолжим."
    await limiter.enforce(settings.RATE_BURST, flood, "FLOOD_LIMIT", "burst", session.sid)
    await limiter.enforce(settings.RATE_BURST_IP, flood, "FLOOD_LIMIT", "burst-ip", ip)
    daily = "Дневной лимит сообщений исчерпан. Продолжим через {seconds} с"
    if user is not None:
        await limiter.enforce(settings.RATE_DAILY_USER, daily + ".", "DAILY_LIMIT", "daily-user", str(user.id))
    else:
        await limiter.enforce(
            settings.RATE_DAILY_GUEST,
            daily + " — или зарегистрируйтесь, у пользователей лимит выше.",
            "DAILY_LIMIT",
            "daily-guest",
            session.sid,
        )
    await limiter.enforce(settings.RATE_DAILY_IP, daily + ".", "DAILY_LIMIT", "daily-ip", ip)


ChatRateLimited = Depends(chat_rate_limit)
