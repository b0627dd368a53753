"""Russian replies of the offline model, composed from templates and tool results."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from backend.assistant.texts import VisitorTexts
from backend.knowledge.normalize import stems
from backend.knowledge.units import sentences

FIRST_ARTICLE_SENTENCES = 2
MORE_SENTENCES = 3  # a bare follow-up («подробнее») gets this many sentences the visitor has not read yet
SHARED_PREFIX = 4
ARTICLES_REMEMBERED = 256  # articles whose sentences and stems are kept (a FAQ has tens to hundreds)

GREETING = re.compile(r"^\s*(прив\w*|здравств\w*|добр\w*\s*(день|утро|вечер)|hi|hello|хай)\b", re.I)
THANKS = re.compile(r"(спасибо|благодар)", re.I)
BYE = re.compile(r"(пока|до\s*свидан)", re.I)
WHO = re.compile(r"(кто\s*ты|ты\s*(бот|человек|робот)|как\s*тебя\s*зовут)", re.I)

# Small-talk replies: several variants per kind, so a session never gets the same one twice in a row.
# ``{trial}`` is the configured trial length in words («7 дней»).
WHO_REPLIES = (
    "Я Лида, виртуальный консультант Leadinc. Рассказываю, как получать заявки от клиентов, показываю "
    "аналитику по нишам и помогаю зарегистрироваться. Чем могу помочь?",
    "Меня зовут Лида, я помощник Leadinc в этом чате: отвечаю на вопросы о сервисе, показываю аналитику "
    "по нишам и открываю пробный доступ. С чего начнём?",
    "Я виртуальный консультант Leadinc, Лида. Могу объяснить, как устроены заявки, сколько они стоят, "
    "и показать цифры по вашей нише. Что вам интересно?",
)
GREETING_REPLIES = (
    "Здравствуйте! Я Лида, консультант Leadinc. Расскажу, как получать заявки для вашего бизнеса, покажу "
    "аналитику по нише или помогу зарегистрироваться. С чего начнём?",
    "Добрый день! На связи Лида из Leadinc. Подскажу по заявкам, тарифам и аналитике ниш — что вас интересует?",
    "Привет! Я Лида, помогаю бизнесу получать заявки через Leadinc. Спросите о сервисе или назовите свою нишу — "
    "покажу аналитику.",
)
THANKS_REPLIES = (
    "Пожалуйста! Если появятся вопросы о заявках или аналитике — пишите, я на связи.",
    "Рада помочь! Захотите посмотреть аналитику по нише или узнать о тарифах — просто напишите.",
    "Не за что! Я здесь, если понадобится ещё что-то о Leadinc.",
)
BYE_REPLIES = (
    "Всего доброго! Возвращайтесь, когда понадобятся заявки для бизнеса — {trial} можно попробовать бесплатно.",
    "До встречи! Если решите попробовать Leadinc, первые {trial} — бесплатно.",
    "Хорошего дня! Будут вопросы о заявках или аналитике — пишите в любое время.",
)
NUDGES = (
    "Я больше про заявки для бизнеса 🙂 Могу рассказать, как работает Leadinc, показать аналитику по вашей нише "
    "или открыть бесплатный доступ на {trial}. Что интереснее?",
    "Тут я вряд ли помогу — я консультант Leadinc. Зато подскажу, сколько заявок можно получать в вашей нише "
    "и сколько это стоит. Расскажете, чем занимаетесь?",
    "Давайте вернёмся к делу: подберу для вашего бизнеса заявки от клиентов и покажу аналитику по нише. "
    "В какой сфере вы работаете?",
    "Это немного не моя тема. Я помогаю с заявками и аналитикой ниш — назовите свою сферу, и я покажу цифры.",
)


def _stems(text: str) -> set[str]:
    return {s for s in stems(text) if len(s) > 1}


def _overlap(wanted: set[str], found: set[str] | frozenset[str]) -> int:
    """Question stems found in a sentence; a stem counts when one is a prefix of the other and the
    shorter has ``SHARED_PREFIX`` letters (the stemmer leaves «вернут» for «вернуть», «верн» for «вернём»)."""
    return sum(any(_related(w, f) for f in found) for w in wanted)


def _related(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= SHARED_PREFIX and long_.startswith(short)


@functools.lru_cache(maxsize=ARTICLES_REMEMBERED)
def _sentence_stems(content: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """The sentences of an article's summary and text, each with its stems: the same few articles
    answer most questions, and splitting and stemming one costs more than choosing its sentences."""
    return tuple((s, frozenset(_stems(s))) for s in sentences(content) if len(s) > 2)


def _sentences(article: dict[str, Any]) -> tuple[tuple[str, frozenset[str]], ...]:
    """The article's sentences: its summary first, then its text (headings, tables and lists' markers
    dropped), with their stems."""
    text = str(article.get("text") or article.get("body") or "")
    return _sentence_stems(f"{article.get('summary') or ''}\n{text}")


def answering_sentences(article: dict[str, Any], query: str, limit: int) -> list[str]:
    """Up to ``limit`` sentences of the article sharing the most words with the question, in the
    article's order; the summary when no sentence shares a word."""
    wanted = _stems(query)
    found = _sentences(article)
    scored = sorted(((_overlap(wanted, stems_), -i) for i, (_, stems_) in enumerate(found)), reverse=True)
    chosen = sorted(-i for overlap, i in scored[:limit] if overlap > 0)
    if not chosen:
        return [sentence for sentence, _ in found[:1]]
    return [found[i][0] for i in chosen]


def faq_answer(articles: Sequence[dict[str, Any]], query: str) -> str:
    """The sentences of the shown articles that answer the question: up to two from the first
    article, one from each further article that shares a word with the question."""
    parts: list[str] = []
    for n, article in enumerate(articles):
        picked = answering_sentences(article, query, FIRST_ARTICLE_SENTENCES if n == 0 else 1)
        if n > 0 and not _overlap(_stems(query), _stems(" ".join(picked))):
            continue
        parts.extend(s for s in picked if s not in parts)
    if not articles:
        return ""
    return " ".join(parts) or str(articles[0].get("title", ""))


def faq_more(article: dict[str, Any], said: str) -> str:
    """A bare follow-up on the current article: its sentences that the conversation's replies did not
    contain yet, in the article's order; when it has nothing more, says so and offers the rest."""
    fresh = [sentence for sentence, _ in _sentences(article) if sentence not in said]
    if fresh:
        return " ".join(fresh[:MORE_SENTENCES])
    title = str(article.get("title") or "").strip()
    subject = f" по теме «{title}»" if title else ""
    return (
        f"Это всё, что есть в нашей базе знаний{subject}. Спросите о другом — о тарифах, пробном периоде "
        "или аналитике по вашей нише."
    )


def faq_plainer(article: dict[str, Any], said: str, texts: VisitorTexts) -> str:
    """«не понял» about the current article: its summary, the article's own short version, unless the
    conversation had it already; then its sentences not said yet; then an offer of people."""
    summary = str(article.get("summary") or "").strip()
    if summary and summary not in said:
        return f"Если коротко: {summary}"
    fresh = [sentence for sentence, _ in _sentences(article) if sentence not in said]
    if fresh:
        return "Вот что ещё об этом есть в нашей базе знаний: " + " ".join(fresh[:MORE_SENTENCES])
    return (
        "Больше об этом в нашей базе знаний ничего нет. Если что-то осталось неясным, уточните, что именно, "
        f"или {texts.write_to_support()}."
    )


def faq_answer_again(articles: list[dict[str, Any]], question: str) -> str:
    """The answer from the next articles after the visitor said the previous one missed."""
    return f"Простите, я ответила не на тот вопрос. Возможно, вы имели в виду вот это: {faq_answer(articles, question)}"


def faq_not_found(texts: VisitorTexts) -> str:
    return (
        "Точного ответа на этот вопрос в нашей базе знаний нет, а гадать я не буду. Пожалуйста, "
        f"{texts.write_to_support()} — там ответят по существу — или напишите «позовите менеджера», и к "
        "разговору подключится человек. А я могу рассказать о тарифах, пробном периоде или показать "
        "аналитику по нише."
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


def offtopic(text: str, texts: VisitorTexts, previous: str = "", turn: int = 0) -> str:
    """A small-talk reply of the message's kind. The variant depends on the message and the turn
    number (deterministic), and is never the session's previous assistant reply."""
    variants: tuple[str, ...]
    if WHO.search(text):
        variants = WHO_REPLIES
    elif GREETING.match(text):
        variants = GREETING_REPLIES
    elif THANKS.search(text):
        variants = THANKS_REPLIES
    elif BYE.search(text):
        variants = BYE_REPLIES
    else:
        variants = NUDGES
    replies = [v.format(trial=texts.trial) for v in variants]
    start = int(hashlib.sha256(f"{turn}:{text}".encode()).hexdigest(), 16) % len(replies)
    for step in range(len(replies)):
        candidate = replies[(start + step) % len(replies)]
        if candidate.strip() != previous.strip():
            return candidate
    return replies[start]
