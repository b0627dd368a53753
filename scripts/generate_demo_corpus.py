"""Generates the demo analytics corpus from scripts/demo_data/niches.txt. Deterministic.

    python -m scripts.generate_demo_corpus

Writes analytic/niches/NN_<category>.md (SPEC section 2 format, one record per niche) and the titles
list analytic/analytic_zagolovkov.md. Every figure is invented: this is demo data.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "scripts" / "demo_data" / "niches.txt"
OUT_DIR = ROOT / "analytic" / "niches"
TITLES = ROOT / "analytic" / "analytic_zagolovkov.md"

MONTHS = [
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
]  # fmt: skip
SLUGS = {
    "Медицина": "medicine", "Красота и уход": "beauty", "Спорт и фитнес": "sport", "Образование": "education",
    "Строительство и ремонт": "construction", "Недвижимость": "real_estate", "Авто": "auto",
    "Транспорт и логистика": "logistics", "Общепит и продукты": "food", "Дом и быт": "home_services",
    "Мебель и интерьер": "furniture", "Торговля": "retail", "Юридические и финансовые услуги": "legal_finance",
    "B2B-услуги": "b2b", "Производство и промышленность": "manufacturing", "Сельское хозяйство": "agriculture",
    "Туризм и отдых": "leisure", "Животные": "pets", "Ритуальные и социальные услуги": "social",
    "IT и связь": "it", "Энергетика и инженерия": "engineering", "Прочие услуги": "other",
}  # fmt: skip
CHECK_RANGE = {  # average order value, roubles
    "Медицина": (3_000, 60_000), "Красота и уход": (1_500, 9_000), "Спорт и фитнес": (2_500, 40_000),
    "Образование": (4_000, 60_000), "Строительство и ремонт": (25_000, 900_000), "Недвижимость": (30_000, 400_000),
    "Авто": (3_000, 120_000), "Транспорт и логистика": (4_000, 90_000), "Общепит и продукты": (900, 25_000),
    "Дом и быт": (2_000, 25_000), "Мебель и интерьер": (30_000, 350_000), "Торговля": (1_500, 30_000),
    "Юридические и финансовые услуги": (10_000, 150_000), "B2B-услуги": (30_000, 400_000),
    "Производство и промышленность": (50_000, 1_500_000), "Сельское хозяйство": (10_000, 500_000),
    "Туризм и отдых": (5_000, 150_000), "Животные": (1_500, 15_000), "Ритуальные и социальные услуги": (5_000, 90_000),
    "IT и связь": (5_000, 500_000), "Энергетика и инженерия": (50_000, 2_000_000), "Прочие услуги": (1_000, 40_000),
}  # fmt: skip
COMPETITION = ["низкая", "умеренная", "средняя", "высокая", "очень высокая"]
CLIENTS = [
    "частные клиенты 25–45 лет", "семьи с детьми", "владельцы малого бизнеса", "жители крупных городов",
    "корпоративные заказчики", "клиенты старше 45 лет", "молодые специалисты", "владельцы частных домов",
]  # fmt: skip
CHANNELS = ["поисковую рекламу", "карты и агрегаторы", "рекомендации знакомых", "соцсети", "маркетплейсы услуг"]
ADVICE = [
    "Отвечайте на заявку в первые 5 минут — конверсия при быстром ответе выше в 2–3 раза.",
    "Готовьте короткий скрипт первого звонка: клиенту важно быстро понять цену и сроки.",
    "Показывайте примеры работ и отзывы сразу в первом сообщении — это снимает главные сомнения.",
    "Фиксируйте причины отказов в CRM: через месяц станет видно, что мешает закрывать сделки.",
    "Предлагайте понятный первый шаг: бесплатный замер, консультацию или расчёт стоимости.",
    "Перезванивайте тем, кто не ответил: до трети сделок закрывается со второго-третьего касания.",
]  # fmt: skip


def _rng(title: str) -> random.Random:
    return random.Random(int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16))


def _num(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u00a0")


def _money(value: float) -> str:
    return _num(round(value, -2 if value < 100_000 else -3)) + "\u00a0₽"


def _yaml_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def parse_source() -> list[tuple[str, str, list[str]]]:
    niches: list[tuple[str, str, list[str]]] = []
    category = ""
    for raw in SOURCE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not line.startswith("## ")):
            continue
        if line.startswith("## "):
            category = line[3:].strip()
            continue
        title, _, aliases = line.partition("|")
        niches.append((category, title.strip(), [a.strip() for a in aliases.split(",") if a.strip()]))
    return niches


def record(category: str, title: str, aliases: list[str]) -> str:
    rng = _rng(title)
    low, high = CHECK_RANGE[category]
    check = rng.uniform(low, high)
    leads = rng.randrange(150, 9000, 10)
    lead_cost = max(150.0, check * rng.uniform(0.02, 0.09))
    conversion = rng.uniform(6, 32)
    peak = rng.sample(range(12), 2)
    low_month = (min(peak) + 6) % 12
    competition = rng.choice(COMPETITION)
    growth = rng.uniform(-6, 28)
    client = rng.choice(CLIENTS)
    channel_a, channel_b = rng.sample(CHANNELS, 2)
    advice = rng.sample(ADVICE, 2)
    trend = "растёт" if growth > 3 else "стабилен" if growth > -2 else "немного снижается"
    body = f"""_Демо-данные: цифры сгенерированы и не являются реальной статистикой._

Ниша «{title}» ({category.lower()}): по России в месяц приходит около {_num(leads)} заявок, спрос {trend} \
({growth:+.0f}% за год). Типичный клиент — {client}; чаще всего они ищут исполнителя через \
{channel_a}, а также через {channel_b}.

Сезонность: пик обращений приходится на {MONTHS[peak[0]]} и {MONTHS[peak[1]]}, самый спокойный месяц — \
{MONTHS[low_month]}. Средний чек — около {_money(check)}, конкуренция {competition}.

Совет: {advice[0]} {advice[1]}

| Показатель | Значение |
|---|---|
| Заявок в месяц (Россия) | {_num(leads)} |
| Средний чек | {_money(check)} |
| Стоимость лида | {_money(lead_cost)} |
| Конверсия в продажу | {conversion:.0f}% |
| Сезонный пик | {MONTHS[peak[0]]}, {MONTHS[peak[1]]} |
| Уровень конкуренции | {competition} |
| Рост спроса за год | {growth:+.0f}% |
"""
    front = f"---\nniche: {title}\naliases: {_yaml_list(aliases)}\ncategory: {category}\n---\n"
    return front + body


def main() -> None:
    niches = parse_source()
    titles = [title for _, title, _ in niches]
    duplicates = {t for t in titles if titles.count(t) > 1}
    if duplicates:
        raise SystemExit(f"duplicate niches in {SOURCE}: {sorted(duplicates)}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.md"):
        old.unlink()
    categories = list(dict.fromkeys(category for category, _, _ in niches))
    for number, category in enumerate(categories, start=1):
        records = [record(c, t, a) for c, t, a in niches if c == category]
        path = OUT_DIR / f"{number:02d}_{SLUGS[category]}.md"
        path.write_text("".join(records), encoding="utf-8")
    header = "<!-- Generated by scripts/generate_demo_corpus.py from the demo corpus; do not edit. -->\n"
    TITLES.write_text(header + "".join(f"- {t}\n" for t in titles), encoding="utf-8")
    print(f"{len(niches)} niches in {len(categories)} files under {OUT_DIR}")


if __name__ == "__main__":
    main()
