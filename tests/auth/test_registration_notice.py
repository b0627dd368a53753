"""The operator's notice of a new registration: queued after the account commits, sent by a real
Celery worker on the ``text`` queue through a real SMTP server (aiosmtpd), retried while SMTP is
down; with ADMIN_EMAIL unset nothing is sent. Both ways of creating an account are covered: the chat
funnel (city and niche in the notice) and ``POST /auth/register``; and the same notice for a handoff to a human."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults.support import free_port
from smtp_standin import SMTPStandIn, body_of
from voice.workers import WorkerProcess

from backend.core.config import Settings
from helpers import ADMIN_TOKEN, TEST_SECRET, client_for, derive_settings

OPERATOR = "ops@leadinc.example"


class Mailbox:
    """The SMTP server both the API and the worker send to; it can be taken down and brought back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: SMTPStandIn | None = None

    def up(self) -> SMTPStandIn:
        if self.server is None:
            self.server = SMTPStandIn(self.port).start()
        return self.server

    def down(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.down()


@pytest.fixture(scope="module")
def text_worker(
    database_url: str, redis_url: str, knowledge_dirs: dict[str, Any], mailbox: Mailbox, tmp_path_factory: Any
) -> Iterator[WorkerProcess]:
    logs = tmp_path_factory.mktemp("notice-worker")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SMTP_", "ADMIN_"))}
    env.update({k: str(v) for k, v in knowledge_dirs.items()})
    env.update(
        {
            "ENVIRONMENT": "test",
            "SECRET": TEST_SECRET,
            "SECRET_ADMIN_TOKEN": ADMIN_TOKEN,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "VAR_DIR": str(logs / "var"),
            "ERROR_JOURNAL_PATH": str(logs / "error_journal.jsonl"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mailbox.port),
            "SMTP_TLS": "false",
            "ADMIN_EMAIL": OPERATOR,
            "PYTHONUNBUFFERED": "1",
        }
    )
    worker = WorkerProcess(env, logs, queues="text").start()
    yield worker
    worker.stop()


@pytest.fixture
async def make_client(
    settings: Settings, tmp_path: Path, app_factory: Any, mailbox: Mailbox, text_worker: WorkerProcess
) -> Any:
    async def make(**overrides: Any) -> httpx.AsyncClient:
        values = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port, "SMTP_TLS": False, **overrides}
        return client_for(await app_factory(derive_settings(settings, tmp_path, **values)))

    return make


async def say(client: httpx.AsyncClient, message: str) -> dict[str, Any]:
    response = await client.post("/ai/chat", json={"message": message})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_funnel_registration_notifies_the_operator(make_client: Any, mailbox: Mailbox) -> None:
    smtp = mailbox.up().reset()
    async with await make_client(ADMIN_EMAIL=OPERATOR) as client:
        await say(client, "хочу зарегистрироваться")
        await say(client, "lead@example.com")
        (code_mail,) = smtp.wait_for("lead@example.com")
        code = re.search(r"\b(\d{6})\b", body_of(code_mail))
        assert code is not None
        assert (await say(client, code.group(1)))["action"] == "ask_city"
        done = await say(client, "Казань, натяжные потолки")
        assert done["action"] == "registered", done

    (notice,) = smtp.wait_for(OPERATOR, timeout=30)
    assert notice["Subject"] == "Новая регистрация в Leadinc: lead@example.com"
    text = body_of(notice)
    assert "Контакт: lead@example.com" in text
    assert "Город: Казань" in text
    assert f"Ниша: {done['fields']['niche']}" in text


async def test_password_registration_notifies_and_unset_admin_email_sends_nothing(
    make_client: Any, mailbox: Mailbox
) -> None:
    smtp = mailbox.up().reset()
    async with await make_client(ADMIN_EMAIL="") as quiet:
        created = await quiet.post("/auth/register", json={"email": "quiet@example.com", "password": "password 12345"})
        assert created.status_code == 201
    async with await make_client(ADMIN_EMAIL=OPERATOR) as client:
        created = await client.post("/auth/register", json={"email": "loud@example.com", "password": "password 12345"})
        assert created.status_code == 201
        duplicate = await client.post(
            "/auth/register", json={"email": "loud@example.com", "password": "password 12345"}
        )
        assert duplicate.status_code == 409  # a rolled-back registration notifies nobody
    (notice,) = smtp.wait_for(OPERATOR, timeout=30)
    assert "Контакт: loud@example.com" in body_of(notice) and "Город: не указан" in body_of(notice)
    await asyncio.sleep(3)  # the worker is idle by now: anything else queued would have arrived
    assert len(smtp.messages_to(OPERATOR)) == 1


async def test_notice_is_retried_until_smtp_is_back(
    make_client: Any, mailbox: Mailbox, text_worker: WorkerProcess
) -> None:
    mailbox.down()
    async with await make_client(ADMIN_EMAIL=OPERATOR) as client:
        created = await client.post("/auth/register", json={"email": "retry@example.com", "password": "password 12345"})
        assert created.status_code == 201
    await asyncio.sleep(3)  # the first attempts fail: nothing listens on the SMTP port
    smtp = mailbox.up()
    (notice,) = smtp.wait_for(OPERATOR, timeout=60)
    assert "Контакт: retry@example.com" in body_of(notice)
    assert "auth.registration_notice" in text_worker.log() and "retry: Retry in" in text_worker.log()


async def test_handoff_notifies_the_operator_once(make_client: Any, mailbox: Mailbox) -> None:
    """The same notice pattern for a handoff to a human (chat.handoff_notice): one mail per handoff."""
    smtp = mailbox.up().reset()
    async with await make_client(ADMIN_EMAIL=OPERATOR) as client:
        assert (await say(client, "Позовите менеджера, у меня вопрос по счёту"))["action"] == "handoff"
        assert (await say(client, "Вы тут?"))["action"] == "handoff_waiting"  # still waiting: no second notice
    (notice,) = smtp.wait_for(OPERATOR, timeout=30)
    assert notice["Subject"] == "Посетитель ждёт менеджера в Leadinc"
    text = body_of(notice)
    assert "Причина: попросил позвать человека" in text
    assert "Контакт: не указан" in text
    await asyncio.sleep(3)
    assert len(smtp.messages_to(OPERATOR)) == 1
