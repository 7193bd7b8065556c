"""Every UI text the bot asks for, declared for the check, without importing Telegram.

Why here and PTB-free: `python -m bot check` and the bot's start-up validate exactly the same
declarations, and the check must not load python-telegram-bot to do it. The texts only the
Telegram layer shows (inline mode) are declared here; all others are declared in the core, next
to the code that reads them (replies, the command table, the team commands).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from bot.chat import commands
from bot.chat.replies import UI_TEXTS as REPLY_TEXTS
from bot.chat.uitexts import UiTexts, check_texts
from bot.leads import digest, inbox, quiz, team

if TYPE_CHECKING:
    from bot.content.model import KnowledgeBase

# The button above inline results that match nothing: plain text (telegram.yaml).
INLINE_TEXTS = UiTexts(
    "responses/ui/telegram.yaml",
    {"tg_inline_no_story": frozenset()},
    plain=frozenset({"tg_inline_no_story"}),
)

# The UI texts of every module the bot runs: the replies (and console), the command menus,
# inline mode and the team commands. One list, so that `python -m bot check` and the start-up
# validate exactly what the code will ask for.
UI_TEXTS: tuple[UiTexts, ...] = (
    REPLY_TEXTS,
    *commands.UI_TEXTS,
    INLINE_TEXTS,
    team.UI_TEXTS,
    inbox.UI_TEXTS,
    quiz.UI_TEXTS,
    digest.UI_TEXTS,
)


def check_ui_texts(kb: KnowledgeBase) -> list[str]:
    """Every problem with the UI texts the bot uses (missing, placeholders, HTML)."""
    return check_texts(kb, *UI_TEXTS)


def unread_ui_texts(kb: KnowledgeBase) -> list[str]:
    """UI texts no module declares: no code reads them, so each is most likely a misspelt key
    (an author's reworded `out_of_scoep` would never be shown). For `check` only: a stray text
    does not stop the bot."""
    declared = sorted({key for spec in UI_TEXTS for key in spec.texts})
    problems = []
    for key in kb.ui:
        if key in declared:
            continue
        close = difflib.get_close_matches(key, declared, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(f"responses/ui/*.yaml: {key}: no part of the bot reads this text{hint}")
    return problems
