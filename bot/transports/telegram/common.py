"""What every handler needs: the services, the reply language, and best-effort recording.

Handlers get the services from `application.bot_data` (set once by `build_application`), the
python-telegram-bot way of sharing objects with callbacks, so handler modules hold no globals
and the tips/team handlers reach the same services the same way (`services_of(context)`).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import Update, User
from telegram.error import RetryAfter
from telegram.ext import ContextTypes
from telegram.warnings import PTBDeprecationWarning

from bot.chat import recording

if TYPE_CHECKING:
    from bot.chat.services import Services
    from bot.engine.matcher import Answer

log = logging.getLogger(__name__)

SERVICES_KEY = "kisah.services"
# The team-lead side (bot/transports/telegram/team.py `Team`): its jobs and hear-back outbox.
TEAM_KEY = "kisah_team"
Context = ContextTypes.DEFAULT_TYPE


def services_of(context: Context) -> Services:
    return context.application.bot_data[SERVICES_KEY]


def language_from_code(code: str | None) -> str | None:
    """Telegram's IETF language_code of the user's app ("en-US", "id") as one of ours."""
    if not code:
        return None
    base = code.split("-")[0].lower()
    if base == "en":
        return "en"
    if base in {"id", "in"}:  # "in" is the pre-1989 ISO code some clients still send
        return "id"
    return None


async def chat_language(services: Services, chat_id: int | None) -> str | None:
    """The language the chat chose with /lang, if any (a short SQLite read, off the loop)."""
    if chat_id is None:
        return None
    return await asyncio.to_thread(services.store.chat_language, chat_id)


async def command_language(services: Services, chat_id: int | None, user: User | None) -> str:
    """Language for commands and buttons: the chat's /lang choice, else the user's Telegram
    app language, else BOT_LANGUAGE. (Questions follow their own language instead.)"""
    return (
        await chat_language(services, chat_id)
        or language_from_code(user.language_code if user else None)
        or services.settings.default_language
    )


async def update_language(services: Services, update: object) -> str:
    """command_language for any update, never failing (used by the error handler)."""
    if not isinstance(update, Update):
        return services.settings.default_language
    chat = update.effective_chat
    try:
        return await command_language(services, chat.id if chat else None, update.effective_user)
    except Exception:  # noqa: BLE001 - the store may be what failed; fall back quietly
        return services.settings.default_language


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked us to wait, in seconds, whichever type PTB hands out.

    `RetryAfter.retry_after` is an int (or float) today and a `timedelta` once PTB_TIMEDELTA
    is set, and in PTB's next major version. Both are handled here, so the deprecation warning
    of this one read says nothing we have not dealt with: only that warning, only around this
    read, is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*`retry_after`", category=PTBDeprecationWarning
        )
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def where(update: object) -> str:
    """`update=<id> chat=<id>` for log lines (never message text: it may be private)."""
    if not isinstance(update, Update):
        return "update=- chat=-"
    chat = update.effective_chat
    return f"update={update.update_id} chat={chat.id if chat else '-'}"


async def record_question(
    services: Services,
    *,
    chat_id: int,
    user_id: int | None,
    question: str,
    answer: Answer,
    source: str,
    message_id: int | None = None,
) -> None:
    """The core's `record_question` (what counts, best effort), off the event loop; with
    `message_id` the question is owed an answer until it is marked replied."""
    await asyncio.to_thread(
        recording.record_question,
        services.store,
        chat_id=chat_id,
        user_id=user_id,
        question=question,
        answer=answer,
        source=source,
        message_id=message_id,
    )
