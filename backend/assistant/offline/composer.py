"""Russian replies of the offline model, composed from templates and tool results."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import Stemmer

_stemmer = Stemmer.Stemmer("russian")
_WORD = re.compile(r"[a-zа-яё0-9]+", re.I)
_STOP = frozenset(
    [
        "и",
        "в",
        "во",
        "не",
        "что",
        "он",
        "на",
        "я",
        "с",
        "со",
        "как",
        "а",
        "то",
        "все",
        "она",
        "так",
        "его",
        "но",
        "да",
        "ты",
        "к",
        "у",
        "же",
        "вы",
        "за",
        "бы",
        "по",
        "только",
        "ее",
        "мне",
        "было",
        "вот",
        "от",
        "меня",
        "еще",
        "нет",
        "о",
        "из",
        "ему",
        "теперь",
        "когда",
        "даже",
        "ну",
        "вдруг",
        "ли",
        "если",
        "уже",
        "или",
        "ни",
        "быть",
        "был",
        "него",
        "до",
        "вас",
        "нибудь",
        "опять",
        "уж",
        "вам",
        "ведь",
        "там",
        "потом",
        "себя",
        "ничего",
        "ей",
        "может",
        "они",
        "тут",
        "где",
        "есть",
        "надо",
        "ней",
        "для",
        "мы",
        "тебя",
        "их",
        "чем",
        "была",
        "сам",
        "чтоб",
        "без",
        "будто",
        "чего",
        "раз",
        "тоже",
        "себе",
        "под",
        "будет",
        "ж",
        "тогда",
        "кто",
        "этот",
        "того",
        "потому",
        "этого",
        "какой",
        "совсем",
        "ним",
        "здесь",
        "этом",
        "один",
        "почти",
        "мой",
        "тем",
        "чтобы",
        "нее",
        "сейчас",
        "были",
        "куда",
        "зачем",
        "всех",
        "никогда",
        "можно",
        "при",
        "наконец",
        "два",
        "об",
        "другой",
        "хоть",
        "после",
        "над",
        "больше",
        "тот",
        "через",
        "эти",
        "нас",
        "про",
        "всего",
        "них",
        "какая",
        "много",
        "разве",
        "три",
        "эту",
        "моя",
        "впрочем",
        "хорошо",
        "свою",
        "этой",
        "перед",
        "иногда",
        "лучше",
        "чуть",
        "том",
        "нельзя",
        "такой",
        "им",
        "более",
        "всегда",
        "конечно",
        "всю",
        "между",
        "ваш",
        "ваши",
        "вашего",
        "у",
        "меня",
        "мне",
    ]
)

GREETING = re.compile(r"^\s*(прив\w*|здравств\w*|добр\w*\s*(день|утро|вечер)|hi|hello|хай)\b", re.I)
THANKS = re.compile(r"(спасибо|благодар)", re.I)
BYE = re.compile(r"(пока|до\s*свидан)", re.I)
WHO = re.compile(r"(кто\s*ты|ты\s*(бот|человек|робот)|как\s*тебя\s*зовут)", re.I)

NUDGES = (
    "Я больше про заявки для бизнеса 🙂 Могу рассказать, как работает Leadinc, показать аналитику по вашей нише "
    "или открыть бесплатный доступ на 7 дней. Что интереснее?",
    "Тут я вряд ли помогу — я консультант Leadinc. Зато подскажу, сколько заявок можно получать в вашей нише "
    "и сколько это стоит. Расскажете, чем занимаетесь?",
    "Давайте вернёмся к делу: подберу для вашего бизнеса заявки от клиентов и покажу аналитику по нише. "
    "В какой сфере вы работаете?",
)


def _stems(text: str) -> set[str]:
    words = [w.lower().replace("ё", "е") for w in _WORD.findall(text)]
    return {s for s in _stemmer.stemWords([w for w in words if w not in _STOP]) if len(s) > 1}


def best_paragraph(text: str, query: str, skip: str = "") -> str | None:
    """The paragraph of an article that shares the most (stemmed) words with the question."""
    wanted = _stems(query)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip() and not p.strip().startswith("#")]
    scored = [(len(wanted & _stems(p)), -i, p) for i, p in enumerate(paragraphs) if p.strip() != skip.strip()]
    if not scored:
        return None
    overlap, _, paragraph = max(scored)
    return paragraph if overlap > 0 else paragraphs[0]


def faq_answer(article: dict[str, Any], query: str) -> str:
    summary = str(article.get("summary") or "").strip()
    body = str(article.get("text") or article.get("body") or "")
    paragraph = best_paragraph(body, query, skip=summary)
    parts = [summary] if summary else []
    if paragraph and paragraph not in summary:
        parts.append(paragraph)
    return "\n\n".join(parts) or str(article.get("title", ""))


def faq_not_found() -> str:
    return (
        "Точного ответа в нашей базе знаний я не нашёл. Напишите, пожалуйста, менеджеру на support@leadinc.example — "
        "он ответит в рабочее время. А я могу рассказать о тарифах, пробном периоде или показать аналитику по нише."
    )


def _first_sentences(text: str, count: int) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("_", "|", "#"))]
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(lines))
    return " ".join(sentences[:count]).strip()


def analytics_answer(niche: str, analytics: str) -> str:
    digest = _first_sentences(analytics, 2)
    return f"Аналитика по нише «{niche}». {digest} Ключевые цифры — в таблице ниже.".replace("  ", " ")


def choose_niche(candidates: list[str]) -> str:
    listing = "\n".join(f"{i}. {name}" for i, name in enumerate(candidates[:5], 1))
    return f"Уточните, какая ниша вам нужна — напишите номер или название:\n{listing}"


def offtopic(text: str) -> str:
    if WHO.search(text):
        return (
            "Я Лида, виртуальный консультант Leadinc. Рассказываю, как получать заявки от клиентов, показываю "
            "аналитику по нишам и помогаю зарегистрироваться. Чем могу помочь?"
        )
    if GREETING.match(text):
        return (
            "Здравствуйте! Я Лида, консультант Leadinc. Расскажу, как получать заявки для вашего бизнеса, покажу "
            "аналитику по нише или помогу зарегистрироваться. С чего начнём?"
        )
    if THANKS.search(text):
        return "Пожалуйста! Если появятся вопросы о заявках или аналитике — пишите, я на связи."
    if BYE.search(text):
        return (
            "Всего доброго! Возвращайтесь, когда понадобятся заявки для бизнеса — 7 дней можно попробовать бесплатно."
        )
    index = int(hashlib.sha256(text.encode()).hexdigest(), 16) % len(NUDGES)
    return NUDGES[index]
