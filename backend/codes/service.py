"""One-time 6-digit codes in Redis: issue, verify and burn.

Only an HMAC of each code is stored (keyed with the codes key derived from SECRET), and the
digests are compared inside Redis by one Lua script: an attacker cannot steer a digest, so the
comparison's timing tells nothing about the code. Codes are never logged. The assistant calls this
module directly; ``backend.codes.app`` also serves it alone.
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
from backend.core.keys import Purpose, derive_key
from backend.core.ratelimit import RateLimiter

CODE_LENGTH = 6

# Outcomes of VERIFY_SCRIPT.
MISSING, VERIFIED, EXHAUSTED, WRONG = 0, 1, 2, 3

# One atomic step: compare the digest, count the attempt, burn the code on success or when the
# attempts run out. Redis runs a script alone, so under any concurrency and across any number of API
# processes a code is compared at most CODE_MAX_ATTEMPTS times. The comparison is of HMAC digests
# keyed with a server secret, so its timing tells an attacker nothing about the code.
# KEYS[1]: the code hash; ARGV[1]: the candidate digest; ARGV[2]: CODE_MAX_ATTEMPTS.
# Returns {outcome, attempts left}.
VERIFY_SCRIPT = """
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest then
  return {0, 0}
end
local max = tonumber(ARGV[2])
local used = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if used >= max then
  redis.call('DEL', KEYS[1])
  return {2, 0}
end
if digest == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {1, 0}
end
used = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if used >= max then
  redis.call('DEL', KEYS[1])
  return {2, 0}
end
return {3, max - used}
"""


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
        self._secret = derive_key(settings, Purpose.CODES)
        self._per_hour = RateLimiter.rule(f"{settings.CODE_MAX_PER_HOUR}/hour")
        self._verify_per_contact = RateLimiter.rule(settings.RATE_VERIFY_CODE_CONTACT)
        self._verify_script = redis.register_script(VERIFY_SCRIPT)

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
        """Return when the code is right (and burn it); raise CodeInvalid/CodeExpired/CodeAttemptsExceeded.

        Past RATE_VERIFY_CODE_CONTACT attempts for this contact (whichever route verifies) the
        attempt is refused with 429 before anything is compared.
        """
        key = self._key(contact)
        retry_after = await self._limiter.hit(self._verify_per_contact, "otp-verify", key)
        if retry_after is not None:
            raise TooManyRequests(
                f"Слишком много попыток ввода кода. Попробуйте через {retry_after} с.",
                retry_after=retry_after,
                error_code="CODE_VERIFY_LIMIT",
            )
        candidate = self._code_digest(contact, code.strip())
        outcome, remaining = await self._verify_script(keys=[key], args=[candidate, self._settings.CODE_MAX_ATTEMPTS])
        if outcome == VERIFIED:
            return
        if outcome == MISSING:
            raise CodeExpired
        if outcome == EXHAUSTED:
            raise CodeAttemptsExceeded
        raise CodeInvalid(f"Неверный код. Осталось попыток: {remaining}.", extra={"attempts_left": int(remaining)})
