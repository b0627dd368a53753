"""Shared bits of the knowledge tests: corpus paths, small valid records, a file writer."""

from __future__ import annotations

import textwrap
from pathlib import Path

from backend.core.config import ROOT_DIR

DEMO_FAQ_DIR = ROOT_DIR / "faq"
DEMO_ANALYTICS_DIR = ROOT_DIR / "analytic" / "niches"
FIXTURES = ROOT_DIR / "tests" / "knowledge" / "fixtures"

FAQ_A = """\
---
article_id: "1"
title: Как вернуть деньги
summary: Возврат денег за неиспользованные заявки в течение 10 дней.
tags: [возврат, деньги]
---
Напишите в поддержку, и мы вернём деньги на карту.
"""

NICHE_A = """\
---
niche: Натяжные потолки
aliases: [потолки]
category: Ремонт
---
Пик спроса весной.

| Показатель | Значение |
|---|---|
| Заявок в месяц | 800 |
"""


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding=encoding)
    return path
