"""The command menus Telegram shows next to the text field, per scope and language.

Every list comes from the command table (`bot.chat.commands`): Telegram picks the most specific list
for each chat, so group administrators see the team-lead commands (/daily, /timezone, /tipnow,
/stats), other group members only what they may use, private chats the personal commands.
Lists are registered once at start in the bot's default language (language_code omitted) and
in the other language for users whose app uses it. The descriptions are UI texts named by the
table (`menu_key`), like every word a user reads.
"""

from __future__ import annotations

import logging
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

from bot.chat.commands import COMMANDS, Scope, menu
from bot.content.model import LANGUAGES

if TYPE_CHECKING:
    from bot.chat.services import Services

log = logging.getLogger(__name__)

# Our scopes as Bot API scopes, most general first (the order they are registered in).
BOT_API_SCOPES: tuple[tuple[Scope, BotCommandScope], ...] = (
    (Scope.DEFAULT, BotCommandScopeDefault()),
    (Scope.PRIVATE, BotCommandScopeAllPrivateChats()),
    (Scope.GROUP, BotCommandScopeAllGroupChats()),
    (Scope.GROUP_ADMINS, BotCommandScopeAllChatAdministrators()),
)


def menus() -> list[tuple[BotCommandScope, tuple[str, ...]]]:
    """(scope, command names) for every scope we register, most general first."""
    return [
        (api_scope, tuple(command.name for command in menu(scope)))
        for scope, api_scope in BOT_API_SCOPES
    ]


def descriptions(services: Services, lang: str) -> dict[str, str]:
    """Command -> its menu description in `lang`."""
    return {command.name: services.kb.text(command.menu_key, lang) for command in COMMANDS}


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
            listed = [BotCommand(name, texts[lang][name]) for name in names]
            try:
                await bot.set_my_commands(listed, scope=scope, language_code=language_code)
                done += 1
            except TelegramError as exc:
                log.warning("setMyCommands scope=%s lang=%s failed: %s", scope.type, lang, exc)
    log.info("command menus registered: %d lists", done)
    return done
