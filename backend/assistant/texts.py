"""What the visitor reads that depends on settings: the support address, the trial length, dates.

One ``VisitorTexts`` is built from the settings by the factory and handed to the funnel, the
engine, the offline model and the prompt files, so ``SUPPORT_EMAIL`` and ``TRIAL_DAYS`` change
every reply and prompt that names them (no address or length is written anywhere else).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SUPPORT_PLACEHOLDER = "{{SUPPORT_CONTACT}}"
TRIAL_PLACEHOLDER = "{{TRIAL_PERIOD}}"


def _plural(count: int, one: str, few: str, many: str) -> str:
    tail, tens = count % 10, count % 100
    if tail == 1 and tens != 11:
        return f"{count} {one}"
    if 2 <= tail <= 4 and not 12 <= tens <= 14:
        return f"{count} {few}"
    return f"{count} {many}"


def days(count: int) -> str:
    """«1 день», «3 дня», «7 дней», «11 дней», «21 день»."""
    return _plural(count, "день", "дня", "дней")


def minutes(count: int) -> str:
    """«1 минуту», «3 минуты», «10 минут» (as in «код действует …»)."""
    return _plural(count, "минуту", "минуты", "минут")


@dataclass(frozen=True)
class VisitorTexts:
    support_email: str = ""
    trial_days: int = 7
    timezone: str = "Europe/Moscow"

    @property
    def trial(self) -> str:
        """The trial length in words: «7 дней»."""
        return days(self.trial_days)

    def write_to_support(self) -> str:
        """The end of a sentence that sends the visitor to support: «напишите в поддержку на …»."""
        if self.support_email:
            return f"напишите в поддержку на {self.support_email}"
        return "напишите в поддержку"

    def support_contact(self) -> str:
        """For prompts: «в поддержку (support@…)», or «в поддержку» when no address is configured."""
        return f"в поддержку ({self.support_email})" if self.support_email else "в поддержку"

    def date(self, moment: datetime) -> str:
        """A date as the visitor reads it (DD.MM.YYYY in the service's time zone)."""
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return aware.astimezone(zone).strftime("%d.%m.%Y")

    def render_prompt(self, text: str) -> str:
        """A prompt file with its settings placeholders filled in."""
        return text.replace(SUPPORT_PLACEHOLDER, self.support_contact()).replace(TRIAL_PLACEHOLDER, self.trial)

    def access_sentence(self, access: str, until: datetime | None) -> str:
        """One sentence on the caller's access (states of ``backend.auth.accounts.AccessState``)."""
        when = self.date(until) if until is not None else None
        if access == "trial":
            return f"Пробный доступ открыт до {when}." if when else "Пробный доступ открыт."
        if access == "subscription":
            return f"Подписка активна до {when}." if when else "Доступ к аналитике открыт."
        if access == "trial_ended":
            return f"Ваш пробный период закончился {when} — продлите подписку в личном кабинете или {self.write_to_support()}."
        if access == "subscription_ended":
            return f"Ваша подписка закончилась {when} — продлите её в личном кабинете или {self.write_to_support()}."
        if access == "none":
            return f"У вашего аккаунта пока нет доступа к аналитике — {self.write_to_support()}, и мы поможем."
        return ""
