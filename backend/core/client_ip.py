"""The real client IP: ``X-Forwarded-For`` is believed only when the peer is a trusted proxy."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from backend.core.config import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]


def _trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(connection: HTTPConnection, trusted: list[Network]) -> str:
    peer = connection.client.host if connection.client else "unknown"
    if not _trusted(peer, trusted):
        return peer
    forwarded = [part.strip() for part in connection.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    for hop in reversed(forwarded):  # rightmost first: the hops our own proxies appended
        if not _trusted(hop, trusted):
            return hop
    return forwarded[0] if forwarded else peer


@functools.lru_cache(maxsize=8)
def _networks(items: tuple[str, ...]) -> list[Network]:
    return parse_networks(items)


def request_ip(connection: HTTPConnection, settings: Settings) -> str:
    """``client_ip`` with the proxies of ``TRUSTED_PROXIES`` (parsed once)."""
    return client_ip(connection, _networks(tuple(settings.TRUSTED_PROXIES)))
