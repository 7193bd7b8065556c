"""The command menus Telegram shows next to the text field, per scope and language.

Telegram picks the most specific list for each chat: group administrators see the team-lead
commands (/daily, /timezone, /tipnow, /stats), other group members only what they may use,
private chats the personal commands. Lists are registered once at start in the bot's default
language (language_code omitted) and in the other language for users whose app uses it.
The descriptions are UI texts (`responses/ui/telegram.yaml`), like every word a user reads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
)
from telegram.error import TelegramError

from bot.knowledge import LANGUAGES
from bot.replies import UiTexts
from bot.telegram.team import team_commands

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

PRIVATE = ("start", "help", "ask", "topics", "story", "tip", "lang")
GROUP = ("ask", "topics", "story", "tip", "help", "lang")
# Handled by bot/telegram/team.py, which also owns their descriptions (`team_commands`).
TEAM_PRIVATE = ("daily", "timezone")  # in a private chat anyone manages their own tips
TEAM_LEAD = ("daily", "timezone", "tipnow", "stats")
# The descriptions this module reads (telegram.yaml); menus show no markup, so all are plain.
_DESCRIPTIONS = {f"tg_cmd_{name}": frozenset[str]() for name in PRIVATE + GROUP}
UI_TEXTS = UiTexts("responses/ui/telegram.yaml", _DESCRIPTIONS, plain=frozenset(_DESCRIPTIONS))


def menus() -> list[tuple[BotCommandScope, tuple[str, ...]]]:
    """(scope, command names) for every scope we register, most general first."""
    return [
        (BotCommandScopeDefault(), PRIVATE),
        (BotCommandScopeAllPrivateChats(), PRIVATE + TEAM_PRIVATE),
        (BotCommandScopeAllGroupChats(), GROUP),
        (BotCommandScopeAllChatAdministrators(), GROUP + TEAM_LEAD),
    ]


def descriptions(services: Services, lang: str) -> dict[str, str]:
    """Command -> description in `lang`: ours from telegram.yaml, the team's from team.py."""
    texts = {name: services.kb.text(f"tg_cmd_{name}", lang) for name in PRIVATE + GROUP}
    texts.update(team_commands(services, lang))
    return texts


def commands(texts: dict[str, str], names: Sequence[str]) -> list[BotCommand]:
    return [BotCommand(name, texts[name]) for name in names]


async def register_menus(bot: Bot, services: Services) -> int:
    """setMyCommands for every scope and language; returns how many lists were set.

    A failure is logged, not fatal: the bot answers commands whether or not the menu shows.
    """
    default_lang = services.settings.default_language
    texts = {lang: descriptions(services, lang) for lang in LANGUAGES}
    done = 0
    for scope, names in menus():
        for lang in LANGUAGES:
            language_code = None if lang == default_lang else lang
            try:
                await bot.set_my_commands(
                    commands(texts[lang], names), scope=scope, language_code=language_code
                )
                done += 1
            except TelegramError as exc:
                log.warning("setMyCommands scope=%s lang=%s failed: %s", scope.type, lang, exc)
    log.info("command menus registered: %d lists", done)
    return done
