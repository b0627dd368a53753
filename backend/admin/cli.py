"""``python -m scripts.users list|show|grant|revoke|delete`` — the operators' account commands.

The same rules as ``/admin/users…`` (``service.py``), run in one unit of work against the
configured PostgreSQL (``DATABASE_URL``) and Redis (``REDIS_URL``). Output is JSON (one object),
so scripts can read it; ``list`` prints one account per line unless ``--json`` is given.
Exit status: 0 done, 1 no such account, 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

import backend.models  # noqa: F401 - every table, so foreign keys resolve
from backend.admin.exceptions import UserNotFound
from backend.admin.schemas import MAX_GRANT_DAYS, UserList
from backend.admin.service import UserAdmin
from backend.core.config import Settings, get_settings
from backend.core.database import async_session_factory, create_async_db_engine, unit_of_work
from backend.core.redis import create_async_redis, resolve_redis_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.users", description="Manage user accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list accounts, newest first")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    commands.add_parser("show", help="one account with what it holds").add_argument("email")
    grant = commands.add_parser("grant", help="extend the subscription by N days")
    grant.add_argument("email")
    grant.add_argument("--days", type=int, required=True)
    commands.add_parser("revoke", help="end the subscription and trial now").add_argument("email")
    delete = commands.add_parser("delete", help="erase the account, its history and media (152-FZ / GDPR)")
    delete.add_argument("email")
    return parser


async def run(settings: Settings, args: argparse.Namespace) -> BaseModel:
    engine = create_async_db_engine(settings)
    redis = create_async_redis(resolve_redis_url(settings))
    try:
        async with unit_of_work(async_session_factory(engine)) as db:
            admin = UserAdmin(db, settings, redis)
            actions: dict[str, Callable[[], Awaitable[BaseModel]]] = {
                "list": lambda: admin.list(args.limit, args.offset),
                "show": lambda: admin.show(args.email),
                "grant": lambda: admin.grant(args.email, args.days),
                "revoke": lambda: admin.revoke(args.email),
                "delete": lambda: admin.delete(args.email),
            }
            result = await actions[args.command]()
        return result  # committed: an erasure's files and Redis states are gone now
    finally:
        await redis.aclose()
        await engine.dispose()


def _table(listing: UserList) -> str:
    lines = [f"{listing.total} account(s)"]
    for user in listing.users:
        access = "access" if user.has_access else "no access"
        until = max((d for d in (user.trial_ends_at, user.subscription_ends_at) if d), default=None)
        flags = " superuser" if user.is_superuser else ""
        lines.append(
            f"{user.email}\t{access}{' until ' + until.date().isoformat() if until and user.has_access else ''}"
            f"\t{user.city or '-'}\t{user.niche or '-'}\tcreated {user.created_at.date().isoformat()}{flags}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "grant" and not 1 <= args.days <= MAX_GRANT_DAYS:
        print(f"error: --days must be between 1 and {MAX_GRANT_DAYS}", file=sys.stderr)
        return 2
    if args.command == "list" and not (1 <= args.limit <= 1000 and args.offset >= 0):
        print("error: --limit must be 1..1000 and --offset at least 0", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(run(settings or get_settings(), args))
    except UserNotFound as exc:
        print(json.dumps({"error_code": exc.error_code, "detail": exc.detail}, ensure_ascii=False), file=sys.stderr)
        return 1
    if isinstance(result, UserList) and not args.json:
        print(_table(result))
    else:
        payload: dict[str, Any] = result.model_dump(mode="json")
        if args.command == "delete":
            payload = {"deleted": payload}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
