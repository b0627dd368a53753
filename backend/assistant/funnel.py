"""The registration funnel of SPEC section 4: a server-side state machine.

Models only extract values (e-mail, code, city, niche); every stage change, code check and
account creation happens here. State lives in the session under ``data["funnel"]``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from backend.assistant.cities import CityFinder
from backend.assistant.context import Caller
from backend.assistant.ports import AccountsPort, CodesPort, FunnelAccount, KnowledgePort, MailerPort
from backend.assistant.texts import VisitorTexts, minutes
from backend.codes.exceptions import CodeAttemptsExceeded, CodeExpired, CodeInvalid
from backend.knowledge.normalize import to_cyrillic

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
RESEND = re.compile(
    r"(ещ[её]\s*раз|повтор|не\s*приш\w*|не\s*получил\w*|нет\s*(кода|письма)|нов\w*\s*код|"
    r"(отправ|пришл|вышл)\w*\s*(снова|заново|ещ[её]|нов))",
    re.IGNORECASE,
)
CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
# A question inside the funnel ("а сколько стоит тариф?") is a question, not a city or a niche.
QUESTION = re.compile(
    r"\?|^\s*(а\s+|и\s+)?(как|сколько|почему|зачем|когда|где|какой|какая|какие|что\s+(будет|если|делать)|можно\s+ли|нужн\w*\s+ли)\b",
    re.IGNORECASE,
)
# A wish to sign in to an existing account, over the normalised text (``to_cyrillic``): a sign-in verb
# («войти», «зайти», «залогиниться», «авторизоваться», «вход»), or a statement of having an account
# already («у меня уже есть аккаунт», «я уже зарегистрирован»). Questions about signing in are FAQ.
SIGN_IN = re.compile(r"\b(войти|войду|войдем|зайти|зайду|залогин\w*|авторизова\w*|авторизу\w*|вход)\b")
HAVE_ACCOUNT = re.compile(
    r"\b(уже|есть)\b(\s+\w+){0,3}?\s+(аккаунт\w*|учетн\w*|кабинет\w*|зарегистрирован\w*|зарегистрировал\w*|регистрировал\w*)\b"
)
# A problem report («не могу войти», «не получается зайти») is a question for the FAQ, not a sign-in.
# «ли» makes a question even without «?» («есть ли у вас кабинет»).
NEGATED = re.compile(r"\bне\b")
QUESTION_PARTICLE = re.compile(r"\bли\b")
LOGIN_MAX_WORDS = 8


@dataclass
class FunnelState:
    stage: int | None = None
    contact: str | None = None
    city: str | None = None
    niche: str | None = None
    candidates: list[str] = field(default_factory=list)
    mode: str | None = None  # "login": the visitor signs in to an existing account

    @classmethod
    def load(cls, data: dict[str, Any]) -> FunnelState:
        raw = data.get("funnel") or {}
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})

    def store(self, data: dict[str, Any]) -> None:
        data["funnel"] = asdict(self)


@dataclass
class FunnelResult:
    action: str
    reply: str
    stage: int | None
    fields: dict[str, Any] = field(default_factory=dict)
    registered_user_id: uuid.UUID | None = None


def typed_email(text: str, extracted: dict[str, Any]) -> str:
    """The e-mail the visitor typed, lower-cased, or "".

    The server owns the contact: an address the model extracted counts only when it appears in the
    visitor's own text, so a model can never choose where a code is sent.
    """
    typed = EMAIL.search(text)
    if typed:
        return typed.group(0).strip().lower()
    claimed = str(extracted.get("email") or "").strip().lower()
    return claimed if claimed and EMAIL.fullmatch(claimed) and claimed in text.lower() else ""


def wants_login(text: str) -> bool:
    """The visitor asks to sign in to an account they have (not a question about signing in)."""
    if QUESTION.search(text):
        return False
    norm = " ".join(to_cyrillic(EMAIL.sub(" ", text)).split())
    if not norm or len(norm.split()) > LOGIN_MAX_WORDS:
        return False
    if NEGATED.search(norm) or QUESTION_PARTICLE.search(norm):
        return False
    return bool(SIGN_IN.search(norm) or HAVE_ACCOUNT.search(norm))


def asks_about_login(text: str) -> bool:
    """A question or a problem report about signing in («как войти в кабинет?», «не могу зайти»): the
    FAQ's to answer, never a reason to start the registration funnel."""
    norm = " ".join(to_cyrillic(EMAIL.sub(" ", text)).split())
    asks = QUESTION.search(text) or QUESTION_PARTICLE.search(norm) or NEGATED.search(norm)
    return bool(asks and SIGN_IN.search(norm))


def looks_like_funnel_answer(text: str, state: FunnelState) -> bool:
    """Inside the funnel a bare e-mail, code, city or choice is an answer, not a new topic."""
    if state.stage not in (1, 2):
        return False
    stripped = text.strip()
    if EMAIL.fullmatch(stripped) or CODE.fullmatch(stripped) or RESEND.search(stripped):
        return True
    if state.stage == 2 and CHOICE.match(stripped):
        return True
    return bool(state.stage == 2 and len(stripped.split()) <= 6 and not QUESTION.search(stripped))


class Funnel:
    def __init__(
        self,
        *,
        codes: CodesPort,
        mailer: MailerPort,
        knowledge: KnowledgePort,
        cities: CityFinder,
        texts: VisitorTexts | None = None,
    ) -> None:
        self._codes = codes
        self._mailer = mailer
        self._knowledge = knowledge
        self._cities = cities
        self._texts = texts or VisitorTexts()

    async def advance(
        self,
        state: FunnelState,
        text: str,
        extracted: dict[str, Any],
        *,
        accounts: AccountsPort,
        sid: str,
        chat_session_id: uuid.UUID,
        caller: Caller,
        login: bool = False,
    ) -> FunnelResult:
        """One funnel step. ``accounts`` is bound to the turn's unit of work (it only flushes).
        ``login``: the visitor asked to sign in to an existing account (``wants_login``)."""
        if caller.is_authenticated and (state.stage is None or login):
            return self._already_registered(caller)
        before = state.stage
        if login:
            # Signing in: the same code path; once the code is verified an existing account is signed
            # in without asking city and niche. A code already sent at stage 1 stays valid.
            state.mode = "login"
            if state.stage != 1:
                state.stage, state.contact, state.candidates = None, None, []
        if state.stage in (None, 1):
            result = await self._stage_one(state, text, extracted, sid, chat_session_id, accounts)
        else:
            result = await self._stage_two(state, text, extracted, chat_session_id, accounts)
        if state.stage != before:
            await accounts.record_transition(chat_session_id, before, state.stage)
        return result

    def _already_registered(self, caller: Caller) -> FunnelResult:
        who = f" ({caller.email})" if caller.email else ""
        status = self._texts.access_sentence(caller.access, caller.access_until)
        until = self._texts.date(caller.access_until) if caller.access_until else None
        return FunnelResult(
            "already_registered",
            f"Вы уже зарегистрированы и вошли в аккаунт{who}. {status} Чем помочь?".replace("  ", " "),
            3,
            {"access": caller.access, "access_until": until},
        )

    async def _send_code(self, state: FunnelState, email: str, sid: str) -> FunnelResult:
        # The resend cooldown is per contact, whichever session asks: another session cannot replace (and so
        # invalidate) a code sent less than CODE_RESEND_SECONDS ago. Hourly limits apply per contact and session.
        issued = await self._codes.issue(email, scope=sid, enforce_cooldown=True)
        await self._mailer.send_code(email, issued.code)
        state.stage, state.contact = 1, email
        purpose = " для входа" if state.mode == "login" else ""
        return FunnelResult(
            "ask_code",
            f"Отправил 6-значный код{purpose} на {email}. Напишите его сюда — код действует "
            f"{minutes(max(1, issued.expires_in // 60))}.",
            1,
            {"contact": email},
        )

    async def _stage_one(
        self,
        state: FunnelState,
        text: str,
        extracted: dict[str, Any],
        sid: str,
        chat_session_id: uuid.UUID,
        accounts: AccountsPort,
    ) -> FunnelResult:
        email = typed_email(text, extracted)
        code_match = CODE.search(text)
        if email and EMAIL.fullmatch(email) and email != state.contact:
            return await self._send_code(state, email, sid)
        if state.contact and code_match:
            return await self._verify(state, code_match.group(0), chat_session_id, accounts)
        if state.contact and (RESEND.search(text) or email == state.contact):
            return await self._send_code(state, state.contact, sid)
        state.stage = 1
        if state.mode == "login" and not state.contact:
            return FunnelResult(
                "ask_contact",
                "Давайте войдём в ваш аккаунт. Напишите e-mail, с которым вы регистрировались, — пришлю на него код "
                "для входа.",
                1,
                {"mode": "login"},
            )
        if state.contact:
            return FunnelResult(
                "ask_code",
                f"Жду 6-значный код из письма на {state.contact}. Если письмо не пришло — напишите «отправь код ещё раз» "
                "или укажите другой e-mail.",
                1,
                {"contact": state.contact},
            )
        return FunnelResult(
            "ask_contact",
            "Отлично, давайте зарегистрируемся — это займёт минуту. Напишите ваш e-mail, я пришлю на него код "
            "подтверждения.",
            1,
        )

    async def _verify(
        self, state: FunnelState, code: str, chat_session_id: uuid.UUID, accounts: AccountsPort
    ) -> FunnelResult:
        assert state.contact is not None
        try:
            await self._codes.verify(state.contact, code)
        except (CodeInvalid, CodeExpired, CodeAttemptsExceeded) as exc:
            hint = "" if isinstance(exc, CodeInvalid) else " Напишите «отправь код ещё раз», и я пришлю новый."
            return FunnelResult("ask_code", exc.detail + hint, 1, {"contact": state.contact, "error": exc.error_code})
        # The code proved the mailbox: an account of this e-mail is signed in, whichever path the visitor took.
        account = await accounts.sign_in_from_funnel(chat_session_id, state.contact)
        if account is not None:
            return self._signed_in(state, account)
        note = "Аккаунта с этим e-mail пока нет — давайте создадим его. " if state.mode == "login" else ""
        state.stage, state.mode = 2, None
        return FunnelResult(
            "ask_city",
            f"Код подтверждён! {note}Осталось два вопроса: в каком городе вы работаете и какая у вас ниша? "
            "Например: «Казань, ремонт квартир».",
            2,
        )

    def _signed_in(self, state: FunnelState, account: FunnelAccount) -> FunnelResult:
        state.stage, state.mode, state.candidates = 3, None, []
        state.city, state.niche = account.city, account.niche
        status = self._texts.access_sentence(account.access, account.access_until)
        has_access = account.access in ("trial", "subscription")
        offer = (
            f" Показать аналитику по нише «{account.niche}»? Напишите «да» или спросите про другую нишу."
            if has_access and account.niche
            else " Чем помочь?"
        )
        until = self._texts.date(account.access_until) if account.access_until else None
        return FunnelResult(
            "logged_in",
            f"С возвращением! Вы вошли в аккаунт {account.email}. {status}{offer}".replace("  ", " "),
            3,
            {
                "email": account.email,
                "city": account.city,
                "niche": account.niche,
                "access": account.access,
                "access_until": until,
            },
            registered_user_id=account.user_id,
        )

    async def _stage_two(
        self,
        state: FunnelState,
        text: str,
        extracted: dict[str, Any],
        chat_session_id: uuid.UUID,
        accounts: AccountsPort,
    ) -> FunnelResult:
        rest = text
        choice = CHOICE.match(text)
        if choice and state.candidates and 1 <= int(choice.group(1)) <= len(state.candidates):
            state.niche, state.candidates, rest = state.candidates[int(choice.group(1)) - 1], [], ""
        city = self._cities.find(text)
        if city is not None:
            state.city = city.city
            rest = CityFinder.remove(rest, city) if rest else ""
        elif extracted.get("city") and not state.city:
            state.city = str(extracted["city"]).strip()[:100]
        niche_hint = str(extracted.get("niche") or "").strip() or rest.strip(" ,.;")
        if not state.niche and len(niche_hint) >= 3:
            resolution = await self._knowledge.resolve_niche(niche_hint)
            if getattr(resolution, "niche", None):
                state.niche, state.candidates = resolution.niche, []
            elif getattr(resolution, "candidates", None):
                state.candidates = [hit.niche for hit in resolution.candidates][:5]
        if state.city and state.niche:
            return await self._complete(state, chat_session_id, accounts)
        if not state.niche and state.candidates:
            listing = "\n".join(f"{i}. {name}" for i, name in enumerate(state.candidates, 1))
            return FunnelResult(
                "choose_niche",
                f"Уточните нишу — выберите номер или напишите точнее:\n{listing}",
                2,
                {"candidates": state.candidates, "city": state.city},
            )
        if not state.city:
            note = f"Ниша: {state.niche}. " if state.niche else ""
            return FunnelResult("ask_city", f"{note}В каком городе вы работаете?", 2, {"niche": state.niche})
        return FunnelResult(
            "ask_niche",
            f"Город: {state.city}. Какая у вас ниша? Например: «стоматология», «натяжные потолки», «грузоперевозки».",
            2,
            {"city": state.city},
        )

    async def _complete(self, state: FunnelState, chat_session_id: uuid.UUID, accounts: AccountsPort) -> FunnelResult:
        assert state.contact is not None
        user_id, trial_end = await accounts.register_from_funnel(
            chat_session_id, state.contact, state.city, state.niche
        )
        state.stage = 3
        until = self._texts.date(trial_end) if trial_end else None
        trial = f" Пробный доступ открыт до {until}." if until else ""
        return FunnelResult(
            "registered",
            f"Готово, аккаунт создан!{trial} Показать аналитику по нише «{state.niche}» в городе {state.city}? "
            "Напишите «да» или спросите про другую нишу.",
            3,
            {"email": state.contact, "city": state.city, "niche": state.niche, "trial_ends_at": until},
            registered_user_id=user_id,
        )
