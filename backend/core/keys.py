"""One key per purpose, derived from ``SECRET`` with HKDF-SHA256 (RFC 5869).

``SECRET`` itself signs nothing: a key that leaks from one use (say, a CSRF token oracle) does not
sign JWTs or forge code digests. Every purpose has its own ``info`` label; changing a label (or
``SECRET``) rotates that key. See docs/OPERATIONS.md, "Keys and rotation".
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.core.config import Settings

SALT = b"leadinc-assistant/keys"
KEY_BYTES = 32


class Purpose(StrEnum):
    JWT = "jwt/v1"  # the fastapiusersauth cookie (HS256)
    CSRF = "csrf/v1"  # starlette-csrf double-submit tokens
    RESET = "reset-password/v1"  # fastapi-users reset-password tokens
    VERIFY = "verify-email/v1"  # fastapi-users e-mail verification tokens
    CODES = "one-time-codes/v1"  # HMAC of one-time codes and of the contact in their Redis keys


@lru_cache(maxsize=64)
def _derive(secret: str, label: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=SALT, info=b"leadinc:" + label.encode())
    return hkdf.derive(secret.encode())


def derive_key(settings: Settings, purpose: Purpose) -> bytes:
    """The 32-byte key for ``purpose``."""
    return _derive(settings.SECRET, purpose.value)


def derive_secret(settings: Settings, purpose: Purpose) -> str:
    """The same key as hex text, for libraries that take a string secret."""
    return derive_key(settings, purpose).hex()
