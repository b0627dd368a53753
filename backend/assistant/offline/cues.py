"""Lexical cues of the offline router, over the *normalised* message.

The message is normalised with the knowledge layer's ``to_cyrillic`` first (lower case, ё → е,
punctuation dropped, Latin translit turned into Cyrillic), so one pattern covers «ё»/«е»,
«kak zaregistrirovatsya» and «Как зарегистрироваться?». Patterns match word prefixes, which is
what a stemmer would keep. They are generic intent words; the classifier weighs them together with
the evidence of the live index (``router.py``). No word here may exist because of one evaluation
message: an alternative that matches evaluation messages but no routing example and no demo
article was removed (the audit behind the issue on understanding operators' corpora).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backend.knowledge.normalize import STOP_WORDS, to_cyrillic


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# A question (the "?" is checked on the raw text; this catches questions typed without it).
QUESTION = _rx(
    r"(^|\b)(как|каким|сколько|зачем|почему|откуда|куда|где|когда|какие|какой|какая|каких|чем|"
    r"нужн\w* ли|можно ли|могу ли|есть ли|ли\b|что (дает|будет|значит|входит|делать|если|нужно)|"
    r"бывают|бывает ли|реально ли|правда ли)\b"
)
# The visitor addresses the service ("у вас", "вы", "ваш").
ADDRESS = _rx(r"\b(у вас|вы|вас|вам|ваш\w*|leadinc|лидинк\w*)\b")
# Topics of the service itself: prices, billing, documents, account, delivery, quality.
SERVICE_TOPIC = _rx(
    r"\b(тариф\w*|цен[аыуе]\w*|стоит|стоят|стоимост\w*|прайс\w*|оплат\w*|плат(ит\w*|н\w*|еж\w*|ить)|"
    r"счет\w*|акт(ы|ов)?|закрывающ\w*|документ\w*|договор\w*|эдо|ндс|упд|реквизит\w*|возврат\w*|верн\w* деньг\w*|"
    r"скидк\w*|промокод\w*|акци[яи]\w*|пробн\w*|триал\w*|тестов\w*|подписк\w*|пауз\w*|отмен\w*|продл\w*|"
    r"аккаунт\w*|кабинет\w*|парол\w*|логин\w*|войти|вход\w*|сотрудник\w*|интеграц\w*|crm|црм|"
    r"bitrix\w*|битрикс\w*|api|вебхук\w*|webhook\w*|телеграм\w*|telegram|"
    r"уведомлен\w*|поддержк\w*|офис\w*|партнерск\w*|реферал\w*|замен\w*|брак\w*|"
    r"некачествен\w*|дубл\w*|эксклюзив\w*|гаранти\w*|регион\w*|персональн\w*|152|безопасн\w*|"
    r"спам\w*|холодн\w*|деньг\w*)\b"
)
REGISTRATION_WORD = _rx(r"\b(регистрац\w*|зарегистр\w*|регистрир\w*|регнуться|sign up|signup)\b")
# Mentions of getting started / getting access (the subject of a REGISTRATION or an FAQ about it).
SIGNUP = _rx(
    r"(\b(регистрац\w*|зарегистр\w*|регистрир\w*|регнуться|подключ\w*|попроб\w*|"
    r"потестит\w*|потестир\w*|протестит\w*|протестир\w*|начнем|начать|начинаем|стать клиент\w*|запиш\w*|оформл\w*|"
    r"оформи\w*|беру|берем|заполн\w*|sign up|signup|register)\b|"
    r"\bоформ\w* (доступ|пробн|аккаунт|подписк|меня)|\b(созда\w*|завест\w*|откр\w*) (аккаунт|доступ|кабинет)|"
    r"\bдоступ\w* (сейчас|прямо|к аналитик))"
)
# A wish to do it now (as opposed to a question about it).
WISH = _rx(
    r"\b(хочу|хотел\w*|давай\w*|готов\w*|прошу|запишите|оформите|подключите|"
    r"регистрируйте|зарегистрируйте|зарегистрируй|беру|берем|убедил\w*|согласен|согласна|"
    r"погнали|поехали|можно (я|мне|нам)|сейчас|прямо|let s)\b"
)
NEGATED_WISH = _rx(r"\bне (хочу|хотим|готов\w*|буду)\b")
ANALYTICS_STRONG = _rx(
    r"\b(аналитик\w*|статистик\w*|стат(а|у|ы|ой)|спрос\w*|рын(ок|к\w*)|сезонн\w*|средн\w* чек\w*|конкуренц\w*|"
    r"конверси\w*|тренд\w*|перспектив\w*|емкост\w*|выгодн\w*|прибыльн\w*|"
    r"маржинальн\w*|раст(ет|ут)|рост\w*|в нише|по нише|analytics|"
    r"(запросов|обращений|заявок) в (месяц|день|неделю|год))\b"
)
# Words of the trade: not a topic by themselves, but a message with them is not small talk.
TRADE = _rx(r"\b(заявк\w*|лид(ы|ов|а|ам|ами)?|клиент\w*|бизнес\w*|продаж\w*|реклам\w*|ниш\w*)\b")
# Weak requests ("покажи", "что по ...") count only together with a recognised niche.
ANALYTICS_WEAK = _rx(
    r"\b(покаж\w*|дай\w*|цифр\w*|данны\w*|сколько заявок|заявок|что по|как там|а по|по|интересу\w*|посмотреть|глянуть)\b"
)
# Someone looking for a business as a consumer ("ищу мастера") is not a business owner's request.
CONSUMER = _rx(
    r"\b(ищу|ищем|посоветуй\w*|порекомендуй\w*|где (найти|купить|тут)|"
    r"заболел\w*|вызвать|записаться к|запиши меня к)\b"
)
GENERAL_ADVICE = _rx(
    r"\b(налог\w*|открыть (ип|ооо|бизнес)|ипотек\w*|кредит\w*|бизнес план\w*|погод\w*|фильм\w*|книг\w*|политик\w*)\b"
)
BOT_ADDRESS = _rx(r"\b(ты|тебя|тебе|тобой|твой|твоя|твои|твое)\b")
SMALLTALK = _rx(
    r"^(прив\w*|здравств\w*|здрасьте|добр\w* (день|утро|вечер|ночи)|доброе утро|hi|hello|хай|спасибо\w*|"
    r"благодар\w*|пока|до свидан\w*|до связи|всего доброго|как дела|как ты|кто ты|ты (бот|человек|робот)|"
    r"понятно|ясно|ок|ok|окей|ладно|хорошо|отлично|супер|круто|класс)( \w+){0,3}$"
)
AFFIRM = _rx(r"^(да|ага|угу|давай\w*|конечно|хочу|ок|окей|okay|ok|yes|покаж\w*|го|можно)( \w+){0,2}$")
# Verbs that ask for more of what was just said: they open a follow-up and may fill the rest of one.
ASK_MORE = r"подробн\w*|поподробн\w*|расскаж\w*|объясн\w*|поясн\w*"
FOLLOW_UP = _rx(rf"^((а|и|ну) )?(да|ага|{ASK_MORE}|еще|дальше|как|что|и)\b")
# What a bare follow-up may add to its cue: asking for more, not a new question. «а как вернуть
# деньги?» after an article on prices starts like a follow-up but asks something of its own.
MORE_PLEASE = _rx(rf"^({ASK_MORE}|детальн\w*|детал\w*|пожалуйста|плиз|больше|дальше|ну|так|именно|ага|угу)$")
# The visitor says the answer missed their question («это не то», «вы меня не поняли, я про другое»):
# a message made only of the words such messages are made of (any other word names a subject of its own),
# with a negation or a word of missing. «не понял» alone is about the answer being unclear, not wrong.
MISS_MARK = _rx(
    r"^(не|нет|неа|ни|ничего|ниче|нифига|мимо|невпопад|неправильн\w*|неверн\w*|друг(ое|ой|ом|ого|ая|ую)|"
    r"промах\w*|промазал\w*|ерунд\w*|бред\w*|чуш\w*|фигн\w*|причем|"
    r"not|wrong|nope|misunderstood|irrelevant)$"
)
MISS_WORDS = _rx(
    r"^(то|тот|та|те|туда|так|это|ето|этом|этого|том|тому|тем|об|о|про|по|на|в|совсем|вообще|ваще|вовсе|"
    r"абсолютно|опять|снова|же|ну|блин|вы|ты|меня|мне|мой|моим|моему|мое|мою|моей|я|а|но|да|уж|что|чем|"
    r"какой|какого|вопрос\w*|спрашива\w*|спросил\w*|интересова\w*|имел\w*|имею|виду|хотел\w*|"
    r"нужн\w*|был|была|было|были|с|со|к|для|из|речь|говор\w*|писал\w*|ответ\w*|отвеча\w*|понял\w*|поним\w*|общего|отношени\w*|"
    r"связ\w*|тем(а|е|у|ы)|извин\w*|простит\w*|сорри|сорян|увы|тут|здесь|при|подобного|смысл\w*|че|чет|"
    r"эм|хм|ээ|эээ|алло|ау|слушай\w*|попроб\w*|еще|раз|перечита\w*|читал\w*|внимательн\w*|помог\w*|"
    r"what|i|asked|asking|ask|meant|wanted|my|question|topic|answer|that|s|t|is|isn|it|its|this|about|the|"
    r"you|no|help|relevant|off)$"
)
PLAIN_NO = frozenset(["не", "нет", "неа", "ни", "ничего", "ниче"])
# With a plain no, one of these must say what is wrong («не то», «не об этом»): «не нужно» declines an offer.
MISS_POINTS = _rx(
    r"^(то|тот|та|те|туда|так|этом|том|тому|ответ\w*|отвеча\w*|тем(а|е|у|ы)|спрашива\w*|спросил\w*|имел\w*|"
    r"виду|понял\w*|поним\w*|речь|общего|отношени\w*|связ\w*|смысл\w*|говор\w*|писал\w*)$"
)
OTHER_ONE = _rx(r"^друг(ое|ой|ом|ого|ая|ую)$")  # «а в другом?» asks about another one: not a miss
MISS_FILLERS = frozenset(["я", "а", "ну", "же", "да", "но"])
SECOND_PERSON = _rx(r"\b(вы|ты|меня|мой|мое|моим|моему|you|my)\b")
# The visitor did not understand the answer («не понял», «можно попроще?»): made only of such words, with a
# negated word of understanding or a word asking it plainer. Read after ``missed``: «вы меня не поняли» is a miss.
UNDERSTOOD = _rx(
    r"^(понял\w*|поним\w*|понятн\w*|ясн\w*|дошло|доходит|вруб\w*|въехал\w*|въезжа\w*|догнал\w*|догоня\w*|разбира\w*|"
    r"разобрал\w*|разобрат\w*|"
    r"get|got|understand)$"
)
NEGATION = _rx(r"^(не|ни|ничего|ниче|нифига|not|don|didn)$")
PLAINER = _rx(
    r"^(непонятн\w*|неясн\w*|сложн\w*|запута\w*|мудрен\w*|заумн\w*|проще|попроще|простым\w*|"
    r"простыми|понятнее|понятней|другими|человеческ\w*|разжу\w*|разжев\w*|переформулир\w*|"
    r"сформулир\w*|перефраз\w*|иначе|смысле|понимать|туплю|тормож\w*|растолку\w*|расшифр\w*|пальцах|языком|"
    r"трудн\w*|confusing|confused|simpler|simply|simple|rephrase|clarify|plain\w*)$"
)
UNCLEAR_WORDS = _rx(
    r"^(не|ни|ничего|ниче|нифига|я|мне|меня|вы|ты|можно|можете|могли|бы|пожалуйста|плиз|а|ну|так|это|что|как|"
    r"то|чуть|немного|еще|раз|об[ъь]ясн\w*|поясн\w*|расскаж\w*|скаж\w*|сказать|напиш\w*|по|другому|другими|"
    r"словами|для|новичк\w*|чайник\w*|совсем|вообще|ваще|очень|слишком|извин\w*|простит\w*|прост\w*|сорри|"
    r"хм|эм|разбира\w*|в|этом|чет|че|чего|там|написан\w*|текст\w*|ответ\w*|опять|снова|и|но|же|"
    r"ваш\w*|о|об|чем|говор\w*|значит|если|самое|нормальн\w*|короче|язык\w*|понятным|можешь|вот|этот|эта|эти|тупой|тупых|глуп\w*|"
    r"дурак\w*|ааа|эээ|ммм|пиш\w*|сейчас|черта|уточн\w*|могу|смог\w*|"
    r"i|don|didn|t|it|what|do|you|mean|can|could|please|explain|again|in|other|words|not|sure|lost|sorry|more|m|am|idk|dont)$"
)
_CONSONANT_RUN = _rx(r"[бвгджзйклмнпрстфхцчшщ]{4,}|[bcdfghjklmnpqrstvwxz]{4,}")


@dataclass(frozen=True)
class Cues:
    """The message's normalised form and the cue flags the router combines."""

    norm: str
    words: int
    question: bool
    address: bool
    service_topic: bool
    registration_word: bool
    signup: bool
    wish: bool
    analytics_strong: bool
    trade: bool
    analytics_weak: bool
    consumer: bool
    general_advice: bool
    bot_address: bool
    smalltalk: bool
    affirm: bool
    follow_up: bool  # a bare follow-up: the cue and nothing of its own
    missed: bool  # the answer missed the question, and nothing of its own
    unclear: bool  # the answer was not understood, and nothing of its own
    gibberish: bool

    @property
    def domain(self) -> bool:
        return self.service_topic or self.signup or self.analytics_strong or self.address or self.trade


def read_cues(text: str) -> Cues:
    raw = text.strip()
    norm = " ".join(to_cyrillic(raw).split())
    tokens = norm.split()
    letters = raw.lower()
    gibberish = len(tokens) == 1 and tokens[0].isalpha() and bool(_CONSONANT_RUN.search(letters))
    missed = _bare_miss(norm)
    return Cues(
        norm=norm,
        words=len(tokens),
        question="?" in raw or bool(QUESTION.search(norm)),
        address=bool(ADDRESS.search(norm)),
        service_topic=bool(SERVICE_TOPIC.search(norm)),
        registration_word=bool(REGISTRATION_WORD.search(norm)),
        signup=bool(SIGNUP.search(norm)),
        wish=bool(WISH.search(norm)) and not NEGATED_WISH.search(norm),
        analytics_strong=bool(ANALYTICS_STRONG.search(norm)),
        trade=bool(TRADE.search(norm)),
        analytics_weak=bool(ANALYTICS_WEAK.search(norm)),
        consumer=bool(CONSUMER.search(norm)),
        general_advice=bool(GENERAL_ADVICE.search(norm)),
        bot_address=bool(BOT_ADDRESS.search(norm)),
        smalltalk=bool(SMALLTALK.match(norm)) or not tokens,
        affirm=bool(AFFIRM.match(norm)),
        follow_up=_bare_follow_up(norm),
        missed=missed,
        unclear=not missed and _bare_unclear(norm, "?" in raw),
        gibberish=gibberish,
    )


def _bare_follow_up(norm: str) -> bool:
    """A follow-up cue and nothing of its own: only stop words and asking for more after the cue."""
    cue = FOLLOW_UP.match(norm)
    if cue is None:
        return False
    return all(word in STOP_WORDS or MORE_PLEASE.match(word) for word in norm[cue.end() :].split())


def _bare_miss(norm: str) -> bool:
    """«это не то», «вы меня не поняли, я спрашивал про другое»: the answer missed, no subject named."""
    words = norm.split()
    marks = [w for w in words if MISS_MARK.match(w)]
    if not marks or not all(MISS_MARK.match(w) or MISS_WORDS.match(w) for w in words):
        return False  # no mark, or a word of its own (a subject, another intent)
    if words[0] == "а" and all(OTHER_ONE.match(w) for w in marks):
        return False
    said = [w for w in words if not MISS_MARK.match(w) and w not in MISS_FILLERS]
    wrong = any(w not in PLAIN_NO for w in marks)  # «мимо», «неправильно», «другое»
    if not wrong and not any(MISS_POINTS.match(w) for w in said):
        return False  # «нет», «вопросов нет», «не нужно»: a plain no answers an offer
    if any(UNDERSTOOD.match(w) for w in said):
        return wrong or bool(SECOND_PERSON.search(norm))  # «не понял» alone: unclear, not wrong
    return True


def _bare_unclear(norm: str, question: bool) -> bool:
    """«не понял», «можно попроще?»: the answer was unclear, no subject named (``read_cues`` asks only
    when it is not a miss). «это сложно?» asks whether something is hard: a word of difficulty counts
    only when it is not asked."""
    words = norm.split()
    if not all(UNDERSTOOD.match(w) or PLAINER.match(w) or UNCLEAR_WORDS.match(w) for w in words):
        return False
    not_understood = any(UNDERSTOOD.match(w) for w in words) and any(NEGATION.match(w) for w in words)
    plainer = any(PLAINER.match(w) and not (question and w.startswith(("сложн", "трудн"))) for w in words)
    return not_understood or plainer
