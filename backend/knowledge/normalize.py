"""Text normalisation shared by indexing and queries: case, ё, punctuation, translit, stems."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

from backend.knowledge.chat_words import QUESTION_WORDS, SLANG

_WORD = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)
_LETTER_RUNS = re.compile(r"[a-zа-яё]+")
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)

# Latin words that stay Latin (brands, tech terms); everything else typed in Latin in an otherwise
# Latin message is treated as Russian translit ("kak vernut dengi").
KEEP_LATIN = frozenset(
    [
        "crm",
        "api",
        "amocrm",
        "amo",
        "bitrix",
        "bitrix24",
        "retailcrm",
        "webhook",
        "webhooks",
        "email",
        "e",
        "mail",
        "telegram",
        "whatsapp",
        "sms",
        "seo",
        "b2b",
        "b2c",
        "id",
        "ok",
        "ip",
        "url",
        "json",
        "csv",
        "excel",
        "google",
        "yandex",
        "vk",
        "leadinc",
        "iphone",
        "android",
    ]
)
ENGLISH = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "how",
        "what",
        "when",
        "where",
        "why",
        "who",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "you",
        "your",
        "i",
        "my",
        "me",
        "we",
        "our",
        "to",
        "for",
        "with",
        "and",
        "or",
        "of",
        "in",
        "on",
        "it",
        "this",
        "that",
        "work",
        "works",
        "price",
        "prices",
        "cost",
        "stats",
        "statistics",
        "show",
        "tell",
        "about",
        "account",
        "delete",
        "sign",
        "up",
        "trial",
        "free",
        "help",
        "support",
        "leads",
        "lead",
        "service",
        "niche",
        "market",
        "demand",
        "please",
        "want",
        "need",
        "get",
        "have",
    ]
)

_TRANSLIT = [
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("ya", "я"), ("yo", "ё"), ("ju", "ю"), ("ja", "я"), ("jo", "ё"), ("ye", "е"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"), ("i", "и"),
    ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"),
    ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "ц"), ("y", "ы"), ("w", "в"),
    ("x", "кс"), ("q", "к"), ("'", "ь"),
]  # fmt: skip

STOP_WORDS = (
    frozenset(
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
            "ваша",
            "ваше",
            "ваши",
            "вашего",
            "мой",
            "это",
            "мне",
            "пожалуйста",
            "подскажите",
            "скажите",
            "а",
        ]
    )
    | QUESTION_WORDS
)

_stemmer = Stemmer.Stemmer("russian")


_VOWELS = frozenset("aeiouy")
_Y_AFTER_VOWEL = {"a": "ай", "e": "ей", "i": "ий", "o": "ой", "u": "уй", "y": "ый"}


def translit_word(word: str) -> str:
    out, i = [], 0
    while i < len(word):
        pair = word[i : i + 2]
        if len(pair) == 2 and pair[1] == "y" and pair[0] in _VOWELS and word[i + 2 : i + 3] not in _VOWELS:
            out.append(_Y_AFTER_VOWEL[pair[0]])  # "iy", "oy", "yy" before a consonant or the end: й
            i += 2
            continue
        for latin, cyr in _TRANSLIT:
            if word.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(word[i])
            i += 1
    result = "".join(out)
    return result[:-2] + "ый" if result.endswith("ыи") else result


def words(text: str) -> list[str]:
    return [w.lower().replace("ё", "е") for w in _WORD.findall(text)]


def _tokens(text: str) -> list[str]:
    tokens = [SLANG.get(t, t) for t in words(text)]
    return [t for token in tokens for t in token.split()]


def _latin_kind(tokens: list[str]) -> tuple[bool, bool]:
    """Whether the words are mostly Latin, and whether those read as English rather than translit."""
    latin = [t for t in tokens if not _CYRILLIC.search(t) and not t.isdigit()]
    if not latin:
        return False, False
    return len(latin) >= 0.6 * len(tokens), sum(t in ENGLISH for t in latin) >= max(1, 0.35 * len(latin))


def is_english(text: str) -> bool:
    """A message written in English (mostly Latin words, and English ones rather than translit)."""
    mostly_latin, english = _latin_kind(_tokens(text))
    return mostly_latin and english


def to_cyrillic(text: str) -> str:
    """Lower-cased words, Latin translit turned into Cyrillic where the message looks like it, chat
    slang replaced by the corpus word ("телегу" → "telegram")."""
    tokens = _tokens(text)
    mostly_latin, english = _latin_kind(tokens)
    if not mostly_latin or english:
        return " ".join(tokens)
    return " ".join(t if t in KEEP_LATIN or t.isdigit() or _CYRILLIC.search(t) else translit_word(t) for t in tokens)


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def stems(text: str, *, keep_stop_words: bool = False) -> list[str]:
    return [stem(w) for w in to_cyrillic(text).split() if keep_stop_words or w not in STOP_WORDS]


def document_words(text: str) -> list[str]:
    """Words of a text being indexed, plus the forms visitors type for them: the letter part of a
    letter+digit token ("bitrix24" → "bitrix") and the Cyrillic reading of a Latin word
    ("telegram" → "телеграм", "refund" → "рефунд")."""
    out: list[str] = []
    for word in to_cyrillic(text).split():
        out.append(word)
        parts = _LETTER_RUNS.findall(word) if not word.isalpha() else []
        out.extend(p for p in parts if len(p) > 1)
        for part in parts or [word]:
            if len(part) > 2 and not _CYRILLIC.search(part) and part.isalpha():
                out.append(translit_word(part))
    return out


def stems_of(words_: list[str], *, keep_stop_words: bool = False) -> list[str]:
    return [stem(w) for w in words_ if keep_stop_words or w not in STOP_WORDS]
