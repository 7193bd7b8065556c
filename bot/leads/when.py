"""How the team-lead replies say a moment: "Mon 3 Jun 08:00" in the chat's time zone.

Why a module of its own: /daily, /timezone and the inbox ("asked Monday 08:00") all say when,
in the same words from responses/ui/team.yaml; kept below both the team commands and the
inbox, neither has to import the other for it (no import circle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.leads.schedule import EVERY_DAY, WEEKDAYS, zone

if TYPE_CHECKING:
    from datetime import datetime

    from bot.content.model import KnowledgeBase
    from bot.storage.store import Store


def zone_name(store: Store, chat_id: int, default_zone: str) -> str:
    """The chat's time zone (/timezone), else the bot's default."""
    return store.chat_timezone(chat_id) or default_zone


def days_text(kb: KnowledgeBase, days: int, lang: str) -> str:
    """The days of a subscription in words: every day, weekdays, or the days named."""
    if days == WEEKDAYS:
        return kb.text("team_days_weekdays", lang)
    if days & EVERY_DAY == EVERY_DAY:
        return kb.text("team_days_every", lang)
    names = kb.text("team_weekday_names", lang).split()
    chosen = [number for number in range(7) if days >> number & 1]
    # In the week's order from the day after the longest break: "fri-mon" reads Friday,
    # Saturday, Sunday, Monday, and "mon,wed,fri" from Monday.
    start = max(chosen, key=lambda day: (_break_before(days, day), -day))
    ordered = sorted(chosen, key=lambda day: (day - start) % 7)
    return kb.text("team_days_some", lang, days=", ".join(names[day] for day in ordered))


def _break_before(days: int, day: int) -> int:
    """How many days before `day` the schedule does not run on."""
    count = 0
    while count < 6 and not days >> ((day - count - 1) % 7) & 1:
        count += 1
    return count


def when_text(kb: KnowledgeBase, moment: datetime | None, zone_name: str, lang: str) -> str:
    """`moment` as the chat reads it (weekday, day, month, time in its zone); "never" for None."""
    if moment is None:
        return kb.text("team_next_none", lang)
    local = moment.astimezone(zone(zone_name))
    return kb.text(
        "team_next_at",
        lang,
        weekday=kb.text("team_weekday_names", lang).split()[local.weekday()],
        day=local.day,
        month=kb.text("team_month_names", lang).split()[local.month - 1],
        time=local.strftime("%H:%M"),
    )
