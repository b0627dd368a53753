"""Accounts with real data for the operator tests: a password account that chatted (session rows,
messages, a Redis session state), plus funnel events and audio rows whose files exist under MEDIA_DIR."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, text

from backend.core.config import Settings

PASSWORD = "operator test password"


@dataclass
class Seeded:
    email: str
    user_id: uuid.UUID
    cookies: httpx.Cookies
    sessions: list[uuid.UUID]
    files: list[Path] = field(default_factory=list)


async def account_with_data(client: httpx.AsyncClient, settings: Settings, email: str, *, chats: int = 2) -> Seeded:
    created = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    client.cookies.clear()
    login = await client.post("/auth/jwt/login_custom", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    for n in range(chats):
        reply = await client.post("/ai/chat", json={"message": f"Привет, это сообщение номер {n}"})
        assert reply.status_code == 200, reply.text
    cookies = httpx.Cookies(client.cookies)
    client.cookies.clear()
    user_id = uuid.UUID(created.json()["id"])
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.begin() as conn:
            sessions = [
                row[0] for row in conn.execute(text("SELECT id FROM chat_sessions WHERE user_id = :u"), {"u": user_id})
            ]
            seeded = Seeded(email, user_id, cookies, sessions)
            for session_id in sessions:
                conn.execute(
                    text(
                        "INSERT INTO funnel_events (id, session_id, from_stage, to_stage, at) VALUES (:id, :s, 0, 1, now())"
                    ),
                    {"id": uuid.uuid4(), "s": session_id},
                )
                for area, direction in (("uploads", "stt"), ("audio", "tts")):
                    relative = f"{area}/2026-11-30/{secrets.token_urlsafe(24)}.mp3"
                    path = settings.media_dir / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(b"ID3 fake audio of " + email.encode())
                    seeded.files.append(path)
                    conn.execute(
                        text(
                            "INSERT INTO audio_events (id, session_id, direction, format, file_path, status, created_at)"
                            " VALUES (:id, :s, :d, 'mp3', :p, 'done', now())"
                        ),
                        {"id": uuid.uuid4(), "s": session_id, "d": direction, "p": relative},
                    )
    finally:
        engine.dispose()
    return seeded


def rows_of(settings: Settings, seeded: Seeded) -> dict[str, int]:
    """How many rows anywhere still belong to the account (by id, e-mail or its sessions)."""
    ids = [str(s) for s in seeded.sessions] or [str(uuid.uuid4())]
    queries = {
        "users": ("SELECT count(*) FROM users WHERE id = :u OR lower(email) = lower(:e)", {}),
        "chat_sessions": ("SELECT count(*) FROM chat_sessions WHERE user_id = :u OR id::text = ANY(:ids)", {}),
        "messages": ("SELECT count(*) FROM messages WHERE user_id = :u OR session_id::text = ANY(:ids)", {}),
        "funnel_events": ("SELECT count(*) FROM funnel_events WHERE session_id::text = ANY(:ids)", {}),
        "audio_events": ("SELECT count(*) FROM audio_events WHERE session_id::text = ANY(:ids)", {}),
        "lead_outbox": (
            "SELECT count(*) FROM lead_outbox WHERE payload->>'user_id' = CAST(:u AS text)"
            " OR lower(payload->>'contact') = lower(:e)",
            {},
        ),
    }
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.connect() as conn:
            params: dict[str, Any] = {"u": seeded.user_id, "e": seeded.email, "ids": ids}
            return {name: int(conn.execute(text(sql), params).scalar_one()) for name, (sql, _) in queries.items()}
    finally:
        engine.dispose()


def redis_states_naming(settings: Settings, sessions: list[uuid.UUID]) -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        wanted = {str(s) for s in sessions}
        return sum(
            1
            for key in client.scan_iter(match="leadinc:session:*")
            if any(w.encode() in (client.get(key) or b"") for w in wanted)
        )
    finally:
        client.close()


def make_superuser(settings: Settings, email: str) -> None:
    engine = create_engine(settings.database_url_sync)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET is_superuser = true WHERE email = :e"), {"e": email})
    finally:
        engine.dispose()
