"""Who may run a command or press a button: decided here, from facts the transport supplies.

Why in the core: the rule (a team lead is anyone in their own private chat, a user listed in
TEAM_LEAD_IDS, or an administrator of the group) is the same in Telegram and in the terminal;
only finding the facts differs (Telegram asks getChatMember whether the sender administers
the group; the terminal's user leads their own chat). The transport puts the facts on the
`Request` (`private`, `bot_wide_lead`, `group_admin`) and asks `refusal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING

from bot.chat.replies import Reply
from bot.chat.request import Outcome

if TYPE_CHECKING:
    from bot.chat.request import Env, Request


class Access(Enum):
    """Who may run a command. A team lead: in a private chat anyone (their own chat); in a
    group its administrators and the users listed in TEAM_LEAD_IDS; in the terminal, the user."""

    ANYONE = "anyone"
    LEAD_TO_CHANGE = "lead_to_change"  # anyone may look (no argument); changing needs a lead
    LEAD = "lead"

    def needs_lead(self, args: Sequence[str]) -> bool:
        return self is Access.LEAD or (self is Access.LEAD_TO_CHANGE and bool(args))


def is_lead(req: Request) -> bool:
    """Whether the sender leads the chat the request came from, by the facts supplied."""
    return req.private or req.bot_wide_lead or req.group_admin


def needs_admin_fact(access: Access, req: Request) -> bool:
    """Whether the rule cannot be decided without knowing if the sender administers this
    group: it asks for a lead and no cheaper fact settles it. Only then does Telegram spend a
    getChatMember."""
    return access.needs_lead(req.args) and not is_lead(req)


def refusal(env: Env, access: Access, req: Request) -> Outcome | None:
    """The reply to a sender the rule turns away, or None when they may go on."""
    if access.needs_lead(req.args) and not is_lead(req):
        return Outcome(replies=(only_leads(env, req.lang),))
    return None


def only_leads(env: Env, lang: str) -> Reply:
    """The refusal a member gets for a command only team leads may run."""
    return Reply(env.kb.text("team_only_leads", lang))
