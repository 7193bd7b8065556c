"""Build the python-telegram-bot Application: every handler in one list, in order.

Read `add_handlers` top to bottom to know what the bot does with any update. Within a group
the first matching handler wins, so the order below is the routing table; comments mark
where order matters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    PollAnswerHandler,
    TypeHandler,
    filters,
)

from bot.chat.commands import COMMANDS
from bot.content.model import KnowledgeError
from bot.transports.telegram import backlog, buttons, handlers, inline, quizzes, team
from bot.transports.telegram.common import SERVICES_KEY
from bot.transports.telegram.connections import SpreadRequest
from bot.transports.telegram.errors import on_error
from bot.transports.telegram.filters import ADDRESSED_TO_BOT, COMMAND_FOR_ME
from bot.transports.telegram.ratelimit import HandoverRateLimiter
from bot.transports.telegram.texts import UI_TEXTS, check_ui_texts

if TYPE_CHECKING:
    from bot.chat.services import Services
    from bot.settings import Settings

log = logging.getLogger(__name__)

# How often a send that Telegram answered with 429 is retried after its retry_after.
RATE_LIMIT_RETRIES = 5
# Sends beyond the connections wait in SpreadRequest; the timeout only guards odd cases.
POOL_TIMEOUT_SECONDS = 10.0
# With the rate limiter at 30 msg/s and a round trip of 0.1-0.5 s, 3-15 sends are in flight;
# PTB's default of 256 connections made httpcore scan hundreds of idle sockets per request
# (docs/benchmarks.md). In POOLS pools: see bot/transports/telegram/connections.py.
CONNECTION_POOL_SIZE = 16
POOLS = 4

PRIVATE = filters.ChatType.PRIVATE
GROUPS = filters.ChatType.GROUPS
# Everything a user can send that is not text: stickers, photos, voice, documents, ...
NON_TEXT = filters.ATTACHMENT & ~filters.TEXT

# Every text Kisah sends is HTML (bot/chat/markup.py escapes and checks it), and no message
# unfolds a link preview: a card under a coaching answer would be bigger than the answer. Set
# once for the Application (PTB's `Defaults`), so no call site can forget either.
DEFAULTS = Defaults(
    parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
)

__all__ = [
    "DEFAULTS",
    "UI_TEXTS",
    "add_handlers",
    "application_builder",
    "build_application",
    "check_ui_texts",
]


def application_builder(settings: Settings) -> ApplicationBuilder:
    """The builder every Kisah Application starts from (the bot's, and the tests' own
    Applications): the token, the Bot API's address (a fake server in tests) and `DEFAULTS`."""
    if not settings.token:
        raise ValueError("an Application needs settings.token")
    return (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_file_url)
        .defaults(DEFAULTS)
    )


def add_handlers(
    application: Application,
    services: Services,
    *,
    timer: Callable[[], float] = time.monotonic,
) -> None:
    """The routing table. Group -1 runs first for every update; group 0 is first match wins.
    `timer`: the clock of the admin and refusal caches (bot/transports/telegram/admins.py)."""
    # Edited messages were already answered in their first version: drop them before any
    # other handler (commands included) can see them.
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, handlers.ignore_edit), -1)
    # Before everything: a user writing in private may from now on get the weekly picture.
    application.add_handler(TypeHandler(Update, quizzes.remember_private_user), -2)
    # Answers to the quiz polls the bot sent (type quiz, not anonymous).
    application.add_handler(PollAnswerHandler(quizzes.on_poll_answer))

    # Commands, one handler per row of the command table (bot/chat/commands.py). CommandHandler
    # matches "/cmd" and "/cmd@thisbot", never "@otherbot".
    application.add_handlers(
        [CommandHandler(row.name, handlers.command(row)) for row in COMMANDS if not row.team]
    )
    # The table's team-lead rows (/daily /timezone /tipnow /stats, with their access check),
    # the membership updates and the daily-tip job. Registered here, BEFORE the catch-alls
    # below, so that they win.
    team.register(application, services, timer=timer)

    application.add_handlers(
        [
            # Data in bot.chat.callbacks' format (s: f: l: fb: t); other data is left to others.
            CallbackQueryHandler(buttons.on_button, pattern=buttons.PATTERN),
            # Any other button data (forged, outdated): still answered, or the spinner spins.
            CallbackQueryHandler(buttons.on_unknown_button),
            InlineQueryHandler(inline.on_inline_query),
            ChosenInlineResultHandler(inline.on_chosen_result),
            # Questions. Must come after every CommandHandler: "/x" is text too, but these
            # exclude commands anyway so a typo'd command is never taken for a question.
            MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, handlers.private_text),
            MessageHandler(
                GROUPS & filters.TEXT & ~filters.COMMAND & ADDRESSED_TO_BOT, handlers.group_text
            ),
            # Last among text handlers: any command nobody above handled.
            MessageHandler(filters.COMMAND & COMMAND_FOR_ME, handlers.unknown_command),
            MessageHandler(NON_TEXT & (PRIVATE | ADDRESSED_TO_BOT), handlers.non_text),
            # Anything else (group chatter, service messages) matches nothing: ignored.
        ]
    )
    application.add_error_handler(on_error)


def build_application(
    services: Services,
    *,
    rate_limit: bool = True,
    timer: Callable[[], float] = time.monotonic,
) -> Application:
    """The Application for `services.settings`: its token and API URL (a fake server in
    tests), AIORateLimiter (Telegram's 30/s and 20/min per group, RetryAfter honoured; the
    HandoverRateLimiter flavour, which tells the daily tips when they leave it),
    updates processed concurrently. `rate_limit=False` is for benchmarks only; `timer` is the
    clock of the team-lead caches (a test moves it by hand)."""
    settings = services.settings
    if not settings.token:
        raise ValueError("build_application needs settings.token")
    problems = check_ui_texts(services.kb)
    if problems:  # fail at start, not in the one conversation that needs the text
        raise KnowledgeError(problems)
    builder = (
        application_builder(settings)
        .concurrent_updates(True)
        .request(
            SpreadRequest(POOLS, CONNECTION_POOL_SIZE // POOLS, pool_timeout=POOL_TIMEOUT_SECONDS)
        )
    )
    if rate_limit:
        builder = builder.rate_limiter(HandoverRateLimiter(max_retries=RATE_LIMIT_RETRIES))
    application = builder.build()
    application.bot_data[SERVICES_KEY] = services
    add_handlers(application, services, timer=timer)
    backlog.register(application, services)  # what the last run recorded and never answered
    return application
