"""One-time 6-digit codes in Redis: issue, verify and burn.

Only an HMAC of each code is stored, and codes are compared in constant time. Codes are never
logged. The assistant calls this module directly; ``backend.codes.app`` also serves it alone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from backend.codes.exceptions import CodeAttemptsExceeded, CodeExpired, CodeInvalid
from backend.core.config import Settings
from backend.core.errors import TooManyRequests
from backend.core.ratelimit import RateLimiter

CODE_LENGTH = 6


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_in: int


def normalize_contact(contact: str) -> str:
    return contact.strip().lower()


class CodeService:
    def __init__(self, redis: aioredis.Redis, limiter: RateLimiter, settings: Settings) -> None:
        self._redis = redis
        self._limiter = limiter
        self._settings = settings
        self._secret = settings.SECRET.encode()
        self._per_hour = RateLimiter.rule(f"{settings.CODE_MAX_PER_HOUR}/hour")

    def _key(self, contact: str) -> str:
        digest = hmac.new(self._secret, normalize_contact(contact).encode(), hashlib.sha256).hexdigest()
        return f"leadinc:otp:{digest}"

    def _code_digest(self, contact: str, code: str) -> str:
        message = f"{normalize_contact(contact)}:{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    async def issue(self, contact: str, *, scope: str | None = None, enforce_cooldown: bool = False) -> IssuedCode:
        """Make a new code for ``contact``, replacing any previous one.

        At most CODE_MAX_PER_HOUR codes per contact (and per ``scope``, e.g. a chat session, when
        given). With ``enforce_cooldown`` a new code is refused within CODE_RESEND_SECONDS.
        """
        key = self._key(contact)
        ttl = self._settings.CODE_TTL_SECONDS
        if enforce_cooldown:
            age = ttl - await self._redis.ttl(key)
            wait = self._settings.CODE_RESEND_SECONDS - age
            if await self._redis.exists(key) and wait > 0:
                raise TooManyRequests(
                    f"Новый код можно запросить через {wait} с.",
                    retry_after=wait,
                    error_code="CODE_RESEND_TOO_SOON",
                )
        for identifiers in (("contact", key), ("scope", scope) if scope else None):
            if identifiers is None:
                continue
            retry_after = await self._limiter.hit(self._per_hour, "otp", *identifiers)
            if retry_after is not None:
                raise TooManyRequests(
                    "Слишком много кодов за час для этого контакта. Попробуйте позже.",
                    retry_after=retry_after,
                    error_code="CODE_LIMIT_EXCEEDED",
                )
        code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"digest": self._code_digest(contact, code), "attempts": 0})
            pipe.expire(key, ttl)
            await pipe.execute()
        return IssuedCode(code=code, expires_in=ttl)

    async def verify(self, contact: str, code: str) -> None:
        """Return when the code is right (and burn it); raise CodeInvalid/CodeExpired/CodeAttemptsExceeded."""
        key = self._key(contact)
        stored = await self._redis.hget(key, "digest")
        if stored is None:
            raise CodeExpired
        candidate = self._code_digest(contact, code.strip())
        if hmac.compare_digest(str(stored), candidate):
            if await self._redis.delete(key) == 0:  # burnt concurrently by another request
                raise CodeExpired
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "attempts", 1)
            pipe.ttl(key)
            attempts, ttl = await pipe.execute()
        if ttl < 0:  # expired between the two reads: hincrby recreated it without a TTL
            await self._redis.delete(key)
            raise CodeExpired
        remaining = self._settings.CODE_MAX_ATTEMPTS - attempts
        if remaining <= 0:
            await self._redis.delete(key)
            raise CodeAttemptsExceeded
        raise CodeInvalid(f"Неверный код. Осталось попыток: {remaining}.", extra={"attempts_left": remaining})
