"""A moment as a team lead reads it: in the chat's time zone, in words ("Mon 23 Nov 08:30").

Shared by the team commands (when /daily's next tip is due) and the inbox (when a question
was asked), in a module of its own so that neither has to import the other for it (the team
commands' /stats offers the inbox's button, so the inbox must not import them back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.leads.schedule import zone

if TYPE_CHECKING:
    from datetime import datetime

    from bot.content.knowledge import KnowledgeBase


def when_text(kb: KnowledgeBase, moment: datetime | None, zone_name: str, lang: str) -> str:
    """`moment` in the zone `zone_name`, with the weekday and month names of `lang`; the
    "not scheduled" text for None. The texts are declared with the team commands'
    (responses/ui/team.yaml)."""
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
