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
    chosen = [name for number, name in enumerate(names) if days >> number & 1]
    return kb.text("team_days_some", lang, days=", ".join(chosen))


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
