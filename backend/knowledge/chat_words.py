"""Words of chat messages that are not what the visitor is asking about.

* ``SLANG``: a short table of common chat slang turned into the corpus word (applied to queries
  and documents alike by ``normalize.to_cyrillic``). Only well-known, unambiguous shorthand of the
  product's domain belongs here: messenger names, "стата" for statistics, "прайс" for prices.
* ``QUESTION_WORDS``: inflected question words the stop-word list lacks ("какие" stems to "как",
  which would otherwise match every "Как ..." title).
* ``REQUEST_WORDS``: words that ask FOR analytics or carry the conversation around a niche
  ("покажи динамику спроса за год", "что скажешь", "думаю заходить в нишу"), never a niche's words.
  Listed as typed; ``niches`` stems them. A word whose stem is in a niche's name must not be added
  here ("стоит" stems to "сто", an alias of car services).
"""

from __future__ import annotations

# word as typed (lower case, ё → е) -> the words the corpus uses for it
SLANG: dict[str, str] = {
    # Telegram / WhatsApp shorthand
    **dict.fromkeys(["телега", "телеги", "телеге", "телегу", "телегой", "тг", "тлг", "телеграмм"], "telegram"),
    **dict.fromkeys(["ватсап", "вотсап", "вацап", "ватсапп", "ватсапе", "вотсапе", "вацапе", "ватсапу"], "whatsapp"),
    # statistics / information / price list
    **dict.fromkeys(["стата", "стату", "статы", "статой", "статка", "статку", "статки"], "статистика"),
    **dict.fromkeys(["инфа", "инфу", "инфы", "инфой"], "информация"),
    **dict.fromkeys(["прайс", "прайса", "прайсу", "прайсе", "прайсы", "прайсом", "прайсик"], "цены"),
    # chat fillers with no meaning for retrieval
    **dict.fromkeys(["плз", "пжл", "пж", "пжлст", "плиз", "спс"], ""),
}

QUESTION_WORDS = frozenset(
    ["какие", "каких", "каким", "какими", "какое", "какую", "какого", "каком", "какому", "каков", "какова"]
)

REQUEST_FORMS = [
    # asking for analytics
    "аналитика", "аналитику", "аналитики", "статистика", "статистику", "статистики", "данные", "цифры",
    "информация", "информацию", "динамика", "динамику", "динамики", "тренд", "тренды", "трендов", "тенденции",
    "прогноз", "прогнозы", "обзор", "отчет", "график", "графики", "показатели", "метрики", "картина",
    "спрос", "спроса", "спросом", "рынок", "рынка", "рынке", "объем", "объемы", "заявки", "заявок",
    "средний", "чек", "конкуренция", "конкуренции", "сезонность", "сезон", "сезона", "сезоне",
    "год", "года", "году", "месяц", "месяца", "неделю", "период", "динамикой",
    # verbs and fillers of the request
    "покажи", "показать", "покажите", "дай", "дайте", "давай", "нужна", "нужно", "хочу", "хотим",
    "интересует", "интересно", "посмотреть", "глянуть", "узнать", "расскажи", "расскажите", "скажешь",
    "скажете", "скажи", "думаю", "думаем", "заходить", "зайти", "войти", "выйти", "открыть",
    "открывать", "открываю", "открою", "откроем", "запустить", "запускать", "запускаю", "начать", "начинать",
    "планирую", "планируем", "хочется",
    "вообще", "скоро", "сейчас", "вроде", "типа", "короче",
    # the niche as a notion
    "ниша", "ниши", "нишу", "нише", "нишам", "бизнес", "бизнеса", "сфера", "сфере", "направление",
    # pronouns and particles around it
    "что", "как", "какой", "какая", "какие", "там", "по", "про", "для", "у", "меня", "мой", "моя", "наш",
    "наша", "а", "ну", "ок", "еще", "ещё",
]  # fmt: skip
