"""Offline scenario routing: conversation state first, then lexical cues, then nearest examples.

Deterministic and local: examples live in ``scenario/routing_examples.yaml`` and are embedded once
with the same offline embedder the knowledge base uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from backend.assistant.funnel import CODE, EMAIL

Encode = Callable[[Sequence[str]], np.ndarray]

SCENARIOS = ("FAQ", "ANALYTICS", "REGISTRATION", "OFFTOPIC")

AFFIRM = re.compile(r"^\s*(да|ага|угу|давай(те)?|конечно|хочу|ок(ей)?|okay|ok|yes|да,?\s*\w+|покажи(те)?)\W*$", re.I)
WISH = re.compile(
    r"\b(хочу|хотим|хотел[аи]?|давай(те)?|готов[аы]?|можно|прошу|запиши(те)?|оформи(те)?|подключи(те)?)\b", re.I
)
SIGNUP = re.compile(
    r"(регистр|зарегистр|подключ|оформ\w*\s*(доступ|пробн|аккаунт|подписк)|аккаунт\s*(созда|завед)|"
    r"попробова\w*\s*(бесплатно|сервис)?|начать\s*(работ|получ)|доступ\w*\s*(сейчас|прямо)|sign\s*up|register)",
    re.I,
)
QUESTION_ABOUT = re.compile(
    r"(^|\b)(как|сколько|нужн\w*\s*ли|можно\s*ли|зачем|что\s*(даёт|дает|будет)|какие|какой|почему|где|когда|"
    r"обязательн\w*|удалить|сменить|поменять|восстановить|забыл)\b",
    re.I,
)
ANALYTICS_CUE = re.compile(
    r"(аналитик|статистик|спрос|цифр|рынок|рынк|сезонн|средн\w*\s*чек|конкуренц|конверси|ниш[аеиуы])", re.I
)
DOMAIN = re.compile(
    r"(заявк|лид|тариф|оплат|плат|пробн|тест|crm|црм|амо|amo|битрикс|bitrix|интеграц|api|вебхук|webhook|аккаунт|"
    r"кабинет|регистр|договор|счет|счёт|акт|документ|эдо|ндс|поддержк|менеджер|сервис|подписк|возврат|замен|брак|"
    r"клиент|регион|город|ниш|доступ|парол|данн|партн|рефер|эксклюзив|гарант|канал|телеграм|telegram|почт|email|"
    r"у\s+вас|вы\s|ваш|leadinc|лидинк)",
    re.I,
)
FOLLOW_UP = re.compile(r"^\s*(да|ага|подробнее|а\s+как|а\s+что|расскажи\w*\s+подробн\w*|ещё|еще|и\?)\b", re.I)
SMALLTALK = re.compile(
    r"^\s*(прив\w*|здравств\w*|добр\w*\s*(день|утро|вечер)|hi|hello|хай|спасибо|благодар\w*|пока|до\s*свидан\w*|"
    r"как\s*дела|кто\s*ты|ты\s*(бот|человек)|понятно|ясно|ок|ok)\W*$",
    re.I,
)


@dataclass(frozen=True)
class Route:
    scenario: str
    reason: str
    scores: dict[str, float]


class OfflineRouter:
    def __init__(self, examples_path: Path, encode: Encode, k: int = 3) -> None:
        raw: dict[str, list[str]] = yaml.safe_load(examples_path.read_text(encoding="utf-8"))
        self._labels: list[str] = []
        texts: list[str] = []
        for scenario in SCENARIOS:
            for text in raw.get(scenario, []):
                self._labels.append(scenario)
                texts.append(text)
        self._encode = encode
        self._matrix = np.asarray(encode(texts), dtype=np.float32)
        self._k = k

    def _neighbours(self, text: str) -> dict[str, float]:
        vector = np.asarray(self._encode([text]), dtype=np.float32)[0]
        sims = self._matrix @ vector
        scores: dict[str, float] = {}
        for scenario in SCENARIOS:
            mask = np.array([label == scenario for label in self._labels])
            best = np.sort(sims[mask])[-self._k :]
            scores[scenario] = float(best.mean()) if best.size else 0.0
        return scores

    def route(self, text: str, context: dict[str, Any], niche_hint: bool = False) -> Route:
        stage = context.get("funnel_stage")
        last_action = context.get("last_action")
        stripped = text.strip()
        if stage in (1, 2) and (EMAIL.search(stripped) or CODE.search(stripped)):
            return Route("REGISTRATION", "funnel answer", {})
        if stage == 2 and len(stripped.split()) <= 6 and "?" not in stripped and not SMALLTALK.match(stripped):
            return Route("REGISTRATION", "funnel answer (city/niche)", {})
        if EMAIL.fullmatch(stripped):
            return Route("REGISTRATION", "bare e-mail", {})
        if AFFIRM.match(stripped):
            if stage == 3 and context.get("funnel_niche"):
                return Route("ANALYTICS", "accepted the analytics offer", {})
            if last_action == "need_registration":
                return Route("REGISTRATION", "accepted the sign-up offer", {})
        if context.get("last_scenario") == "FAQ" and context.get("current_article_id") and FOLLOW_UP.match(stripped):
            return Route("FAQ", "follow-up on the current article", {})
        if SMALLTALK.match(stripped):
            return Route("OFFTOPIC", "small talk", {})
        scores = self._neighbours(stripped)
        asks = stripped.endswith("?") or bool(QUESTION_ABOUT.search(stripped))
        if SIGNUP.search(stripped):
            if WISH.search(stripped) or not asks:
                scores["REGISTRATION"] += 0.25
            else:
                scores["FAQ"] += 0.15
        analytics_cue = bool(ANALYTICS_CUE.search(stripped))
        if analytics_cue:
            scores["ANALYTICS"] += 0.12
        if niche_hint:
            scores["ANALYTICS"] += 0.2
        if not (DOMAIN.search(stripped) or analytics_cue or niche_hint):
            scores["OFFTOPIC"] += 0.12
        best = max(scores, key=lambda name: scores[name])
        return Route(best, "scored", scores)
