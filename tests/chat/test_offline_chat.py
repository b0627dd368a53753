"""The whole product over HTTP on the offline model: every scenario, the funnel, persistence."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from backend.auth.mailer import latest_outbox_code
from backend.core.config import Settings
from helpers import client_for, derive_settings, stored_messages


async def say(client: httpx.AsyncClient, message: str, status: int = 200) -> dict[str, Any]:
    response = await client.post("/ai/chat", json={"message": message})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def messages_in_db(settings: Settings) -> list[tuple[str, str]]:
    return [(role, text) for role, text, _ in stored_messages(settings)]


async def test_faq_answer_cites_the_right_article(client: httpx.AsyncClient, settings: Settings) -> None:
    reply = await say(client, "Как вернуть деньги, если сервис не подошёл?")
    assert reply["scenario"] == "FAQ"
    assert reply["stage"] is None and reply["dashboard"] is None
    assert reply["sources"], reply
    assert "возврат" in reply["sources"][0]["title"].lower() or "вернуть" in reply["sources"][0]["title"].lower()
    assert messages_in_db(settings)[0] == ("user", "Как вернуть деньги, если сервис не подошёл?")
    assert messages_in_db(settings)[1][0] == "assistant"


async def test_faq_follow_up_reuses_the_current_article(client: httpx.AsyncClient) -> None:
    first = await say(client, "есть ли интеграция с amoCRM?")
    follow = await say(client, "подробнее")
    assert follow["scenario"] == "FAQ"
    assert follow["sources"][0]["article_id"] == first["sources"][0]["article_id"]
    # «more» is the article's sentences not said yet, until the article has nothing more to say
    assert follow["reply"] and follow["reply"] not in first["reply"] and first["reply"] not in follow["reply"]
    last = await say(client, "а что ещё?")
    assert last["sources"] == follow["sources"] and "Это всё" in last["reply"], last


async def test_a_new_question_that_starts_like_a_follow_up_is_answered_for_itself(client: httpx.AsyncClient) -> None:
    question = "а как вернуть деньги, если сервис не подошёл?"
    alone = await say(client, question)  # the question in a conversation of its own
    client.cookies.clear()  # a new conversation
    crm = await say(client, "есть ли интеграция с amoCRM?")
    after_crm = await say(client, question)
    assert alone["scenario"] == after_crm["scenario"] == "FAQ"
    assert alone["sources"] and alone["sources"][0]["article_id"] != crm["sources"][0]["article_id"]
    assert after_crm["sources"][0]["article_id"] == alone["sources"][0]["article_id"]


async def test_a_short_question_after_an_answer_is_read_with_the_one_it_continues(client: httpx.AsyncClient) -> None:
    refund = await say(client, "Как вернуть деньги, если сервис не подошёл?")
    elliptic = await say(client, "а за сколько дней?")
    assert elliptic["scenario"] == "FAQ", elliptic
    assert elliptic["sources"] and elliptic["sources"][0]["article_id"] == refund["sources"][0]["article_id"]
    assert "10 рабочих дней" in elliptic["reply"]


async def test_a_short_question_after_more_is_read_with_the_question_before_it(client: httpx.AsyncClient) -> None:
    team = await say(client, "Можно добавить сотрудников в аккаунт?")
    await say(client, "подробнее")  # carries no subject: the question before it is the one continued
    elliptic = await say(client, "а сколько?")
    assert elliptic["scenario"] == "FAQ" and elliptic["action"] == "answer", elliptic
    assert elliptic["sources"] and elliptic["sources"][0]["article_id"] == team["sources"][0]["article_id"]


async def test_saying_the_answer_missed_shows_another_article_then_hands_over(client: httpx.AsyncClient) -> None:
    refund = await say(client, "Как вернуть деньги, если сервис не подошёл?")
    again = await say(client, "это не то")  # the question again, without the article that missed it
    assert again["scenario"] == "FAQ", again
    assert [s["article_id"] for s in again["sources"]][:1] != [refund["sources"][0]["article_id"]]
    assert again["action"] == "no_answer" or again["reply"].startswith("Простите, я ответила не на тот вопрос")
    last = await say(client, "нет, опять не то")  # a second miss: people, not another guess
    assert last["scenario"] == "FAQ" and last["action"] == "no_answer" and last["sources"] == [], last
    assert "позовите менеджера" in last["reply"]  # SPEC: a «no answer» points to support and to a manager
    person = await say(client, "позовите менеджера")
    assert person["action"] == "handoff", person


async def test_not_understanding_an_answer_gets_the_same_article_said_plainer(client: httpx.AsyncClient) -> None:
    crm = await say(client, "есть ли интеграция с amoCRM?")
    plainer = await say(client, "не понял, можно попроще?")
    assert plainer["scenario"] == "FAQ" and plainer["action"] == "answer", plainer
    assert plainer["sources"][:1] == crm["sources"][:1]
    assert plainer["reply"] != crm["reply"] and plainer["reply"] not in crm["reply"]


async def test_a_second_miss_on_one_question_hands_over_even_after_not_understanding(
    client: httpx.AsyncClient,
) -> None:
    first = await say(client, "Как удалить аккаунт и вернуть деньги?")
    again = await say(client, "это не то")
    assert again["action"] == "answer" and again["sources"][:1] != first["sources"][:1], again
    await say(client, "не понял")  # about the second answer: the next miss is still the second one
    last = await say(client, "нет, опять не то")  # the search could only bring the first article back
    assert last["action"] == "no_answer" and last["sources"] == [], last


async def test_after_no_answer_no_earlier_article_is_current(client: httpx.AsyncClient) -> None:
    refund = await say(client, "Как вернуть деньги, если сервис не подошёл?")
    again = await say(client, "это не то")
    handed = await say(client, "нет, опять не то")
    assert handed["action"] == "no_answer"
    plainer = await say(client, "не понял")  # not the article of an answer the visitor already rejected
    earlier = {s["article_id"] for s in refund["sources"][:1] + again["sources"][:1]}
    assert not {s["article_id"] for s in plainer["sources"][:1]} & earlier, plainer


async def test_offtopic_is_short_and_steers_back(client: httpx.AsyncClient) -> None:
    reply = await say(client, "расскажи анекдот")
    assert reply["scenario"] == "OFFTOPIC"
    assert reply["sources"] == [] and reply["dashboard"] is None
    assert len(reply["reply"]) < 400


async def test_analytics_for_a_guest_asks_to_register(client: httpx.AsyncClient) -> None:
    reply = await say(client, "покажи аналитику по стоматологиям")
    assert reply["scenario"] == "ANALYTICS"
    assert reply["action"] == "need_registration"
    assert reply["dashboard"] is None
    assert "стоматолог" in (reply["fields"]["niche"] or "").lower()


async def register_with_password(client: httpx.AsyncClient, email: str) -> None:
    password = "a-long-password-1"
    assert (await client.post("/auth/register", json={"email": email, "password": password})).status_code == 201
    login = await client.post("/auth/jwt/login_custom", json={"email": email, "password": password})
    assert login.status_code == 200


async def test_analytics_for_a_whitelisted_user_has_the_table(
    settings: Settings, tmp_path: Path, app_factory: Any
) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, SUBSCRIPTION_WHITELIST="boss@example.com"))
    async with client_for(app) as http:
        await register_with_password(http, "boss@example.com")
        reply = await say(http, "что по нише натяжные потолки?")
        me = (await http.get("/auth/users/me")).json()
    assert me["has_access"] is True  # the profile agrees with the chat
    assert reply["scenario"] == "ANALYTICS"
    assert reply["action"] == "show_analytics"
    assert reply["dashboard"]["niche"] == reply["fields"]["niche"]
    assert "потол" in reply["dashboard"]["niche"].lower()
    table = reply["dashboard"]["table"]
    assert table["columns"] and table["rows"] and all(len(r) == len(table["columns"]) for r in table["rows"])


async def test_analytics_for_a_user_without_subscription(client: httpx.AsyncClient, settings: Settings) -> None:
    await register_with_password(client, "nosub@example.com")
    # Password sign-up opens the trial (tests/chat/test_accounts_and_login.py); here it has ended.
    engine = create_engine(settings.database_url_sync)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET trial_ends_at = now() - interval '1 day'"))
    engine.dispose()
    reply = await say(client, "аналитика по автосервисам")
    assert (await client.get("/auth/users/me")).json()["has_access"] is False
    assert reply["action"] == "need_subscription"
    assert reply["dashboard"] is None


async def test_ambiguous_niche_offers_candidates(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, SUBSCRIPTION_WHITELIST="boss@example.com"))
    async with client_for(app) as http:
        await register_with_password(http, "boss@example.com")
        reply = await say(http, "аналитика по ремонту")
    assert reply["scenario"] == "ANALYTICS"
    if reply["action"] == "choose_niche":
        assert 2 <= len(reply["fields"]["candidates"]) <= 25
    else:  # the resolver was confident: then it must name one niche with a table
        assert reply["dashboard"]["niche"]


async def test_full_registration_funnel(client: httpx.AsyncClient, settings: Settings) -> None:
    email = f"lead-{uuid.uuid4().hex[:6]}@example.com"
    start = await say(client, "хочу зарегистрироваться")
    assert (start["scenario"], start["action"], start["stage"]) == ("REGISTRATION", "ask_contact", 1)

    sent = await say(client, email)
    assert (sent["action"], sent["stage"]) == ("ask_code", 1)
    code = latest_outbox_code(settings, email)
    assert code is not None and len(code) == 6

    wrong = await say(client, f"{(int(code) + 1) % 1_000_000:06d}")
    assert wrong["action"] == "ask_code" and wrong["fields"]["error"] == "CODE_INVALID"

    verified = await say(client, code)
    assert (verified["action"], verified["stage"]) == ("ask_city", 2)
    assert (await client.get("/auth/users/me")).status_code == 401

    done = await client.post("/ai/chat", json={"message": "Казань, натяжные потолки"})
    body = done.json()
    assert (body["action"], body["stage"]) == ("registered", 3), body
    assert "fastapiusersauth" in done.cookies and "sessionid" in done.cookies
    assert body["fields"]["city"] == "Казань"

    me = (await client.get("/auth/users/me")).json()
    assert me["is_authenticated"] is True and me["email"] == email and me["has_access"] is True

    analytics = await say(client, "да")
    assert analytics["scenario"] == "ANALYTICS" and analytics["action"] == "show_analytics"
    assert analytics["dashboard"]["niche"] == body["fields"]["niche"]

    history = messages_in_db(settings)
    assert [role for role, _ in history].count("user") == 6


async def test_code_cannot_be_resent_within_a_minute(client: httpx.AsyncClient) -> None:
    await say(client, "хочу зарегистрироваться")
    await say(client, "again@example.com")
    response = await client.post("/ai/chat", json={"message": "отправь код ещё раз"})
    assert response.status_code == 429
    assert response.json()["error_code"] == "CODE_RESEND_TOO_SOON"
    assert int(response.headers["Retry-After"]) > 0


async def test_expired_code_is_reported(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    import asyncio

    app = await app_factory(derive_settings(settings, tmp_path, CODE_TTL_SECONDS=1))
    async with client_for(app) as http:
        await say(http, "хочу зарегистрироваться")
        await say(http, "late@example.com")
        code = latest_outbox_code(derive_settings(settings, tmp_path), "late@example.com")
        await asyncio.sleep(1.5)
        reply = await say(http, str(code))
    assert reply["action"] == "ask_code" and reply["fields"]["error"] == "CODE_EXPIRED"


@pytest.mark.parametrize("message", ["", " " * 3, "x" * 4001])
async def test_message_length_is_validated(client: httpx.AsyncClient, message: str) -> None:
    response = await client.post("/ai/chat", json={"message": message})
    assert response.status_code == 422
    assert response.json()["error_code"] == "VALIDATION_ERROR"


async def test_five_wrong_codes_burn_the_code(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_BURST="100/10 seconds"))
    async with client_for(app) as http:
        await say(http, "хочу зарегистрироваться")
        await say(http, "guess@example.com")
        code = latest_outbox_code(derive_settings(settings, tmp_path), "guess@example.com")
        wrong = f"{(int(str(code)) + 1) % 1_000_000:06d}"
        errors = []
        for _ in range(5):
            response = await http.post("/ai/chat", json={"message": wrong})
            errors.append(response.json().get("fields", {}).get("error") or response.json().get("error_code"))
        assert errors[:4] == ["CODE_INVALID"] * 4 and errors[4] == "CODE_ATTEMPTS_EXCEEDED"
        late = await http.post("/ai/chat", json={"message": str(code)})  # the right code, but burnt
        body = late.json()
        assert body.get("stage") != 2 and (await http.get("/auth/users/me")).status_code == 401, body


async def test_codes_per_session_are_limited(settings: Settings, tmp_path: Path, app_factory: Any) -> None:
    app = await app_factory(derive_settings(settings, tmp_path, RATE_BURST="100/10 seconds", CODE_MAX_PER_HOUR=3))
    async with client_for(app) as http:
        await say(http, "хочу зарегистрироваться")
        for n in range(3):  # a new contact each time, so the per-contact cooldown does not apply
            assert (await say(http, f"farm{n}@example.com"))["action"] == "ask_code"
        response = await http.post("/ai/chat", json={"message": "farm9@example.com"})
    assert response.status_code == 429, response.text
    assert response.json()["error_code"] == "CODE_LIMIT_EXCEEDED" and int(response.headers["Retry-After"]) > 0
