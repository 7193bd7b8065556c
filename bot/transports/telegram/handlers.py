"""Handlers for messages and commands: read the update, ask `Replies`, send what it returns.

Each handler is a few lines on purpose: deciding what to say is `bot.chat.replies`' job, storing is
`bot.storage.store`'s; a handler only picks the language, the chat to answer in and what to record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from telegram import Chat, MessageEntity, Update
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import ApplicationHandlerStop

from bot.chat.request import Env, Request
from bot.transports.telegram.common import (
    Context,
    command_language,
    record_question,
    services_of,
    where,
)
from bot.transports.telegram.filters import strip_mention
from bot.transports.telegram.quizzes import send_quiz
from bot.transports.telegram.ratelimit import NotSentStopping
from bot.transports.telegram.render import send_reply

if TYPE_CHECKING:
    from bot.chat.commands import Command
    from bot.chat.replies import Reply
    from bot.chat.services import Services

log = logging.getLogger(__name__)
ANSWER_RETRY_SECONDS = 1.0


def _quote(update: Update) -> int | None:
    """In groups the answer quotes the question, so everyone sees what it answers."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or chat.type == Chat.PRIVATE:
        return None
    return message.message_id


async def answer_question(update: Update, context: Context, question: str, source: str) -> None:
    """The core interaction: a question in, the best story (or an honest "none") out.

    Recorded first, as owed, then answered and marked replied (issue 15 item 9): the answer
    may wait minutes in a group's rate limit, and a stop or a crash meanwhile must not lose
    the question; after a restart what is still owed is answered (backlog.py)."""
    services = services_of(context)
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    assert chat is not None
    fallback = await command_language(services, chat.id, user)
    answer, reply = services.replies.answer(question, default_lang=fallback, chat_id=chat.id)
    best = answer.best
    log.info(
        "%s question source=%s lang=%s answered=%s anecdote=%s score=%s",
        where(update),
        source,
        answer.lang,
        best is not None,
        best.anecdote.id if best else "-",
        best.score if best else 0,
    )
    message_id = message.message_id if message is not None else None
    await record_question(
        services,
        chat_id=chat.id,
        user_id=user.id if user else None,
        question=question,
        answer=answer,
        source=source,
        message_id=message_id,
    )
    try:
        await _send_answer(context, update, chat.id, reply)
    except NotSentStopping:
        log.info("%s stopping: answer not sent, owed after the restart", where(update))
        return
    if message_id is not None and answer.small_talk is None:
        await asyncio.to_thread(services.store.mark_replied, chat.id, message_id)


async def _send_answer(context: Context, update: Update, chat_id: int, reply: Reply) -> None:
    """Send the answer; a server-side failure (Telegram's 500, a dropped connection) is
    retried once after a second. A bad request would fail again, and a timeout may have been
    delivered already, so those are not retried."""
    try:
        await send_reply(context.bot, chat_id, reply, reply_to=_quote(update))
    except (BadRequest, TimedOut, NotSentStopping):
        raise
    except NetworkError as exc:
        log.warning("%s sending the answer failed (%s), retrying once", where(update), exc)
        await asyncio.sleep(ANSWER_RETRY_SECONDS)
        try:
            await send_reply(context.bot, chat_id, reply, reply_to=_quote(update))
        except TelegramError as again:
            log.error("%s answer not delivered after a retry: %s", where(update), again)
            raise


async def private_text(update: Update, context: Context) -> None:
    """In a private chat any text is a question."""
    assert update.effective_message is not None
    await answer_question(update, context, update.effective_message.text or "", "private")


async def group_text(update: Update, context: Context) -> None:
    """A group message that mentions the bot or replies to it (the filter checked which)."""
    message = update.effective_message
    assert message is not None
    question = strip_mention(message, message.text or "")
    if not question:  # just "@kisah_bot": say how to ask
        await _send(update, context, lambda s, lang: s.replies.ask_usage(lang))
        return
    await answer_question(update, context, question, "group")


def _command_argument(update: Update) -> str:
    """Everything after the /command, line breaks kept (context.args would lose them)."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    if message and message.entities and message.entities[0].type == MessageEntity.BOT_COMMAND:
        return text[message.entities[0].length :].strip()
    return text.partition(" ")[2].strip()


async def _send(update: Update, context: Context, build: Callable[[Services, str], Reply]) -> None:
    """Send `build(services, lang)` in the command language of this chat."""
    services = services_of(context)
    chat = update.effective_chat
    assert chat is not None
    lang = await command_language(services, chat.id, update.effective_user)
    await send_reply(context.bot, chat.id, build(services, lang), reply_to=_quote(update))


def env_of(services: Services) -> Env:
    """The builders' view of the services (cheap: four references)."""
    return Env(services.replies, services.store, services.settings)


def command(row: Command) -> Callable[[Update, Context], Awaitable[None]]:
    """The handler of one everyday command of the table (team commands:
    bot/transports/telegram/team.py):
    build the outcome in a worker thread (builders may read the store), then send it."""

    async def handle(update: Update, context: Context) -> None:
        services = services_of(context)
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None
        lang = await command_language(services, chat.id, user)
        request = Request(
            chat_id=chat.id,
            user_id=user.id if user else None,
            text=_command_argument(update),
            lang=lang,
            bot_wide_lead=user is not None and user.id in services.settings.team_lead_ids,
            update_id=update.update_id,
            private=chat.type == Chat.PRIVATE,
        )
        outcome = await asyncio.to_thread(row.build, env_of(services), request)
        if outcome.question is not None:
            source = "private" if chat.type == Chat.PRIVATE else "group"
            await answer_question(update, context, outcome.question, source)
            return
        for reply in outcome.replies:
            await send_reply(context.bot, chat.id, reply, reply_to=_quote(update))
        if outcome.poll is not None:  # /quiz: a quiz poll, recorded so its answer counts
            await send_quiz(context.bot, services.store, chat.id, outcome.poll)

    handle.__name__ = handle.__qualname__ = f"command_{row.name}"
    return handle


async def unknown_command(update: Update, context: Context) -> None:
    await _send(update, context, lambda s, lang: s.replies.unknown_command(lang))


async def non_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice notes...: a short hint that Kisah reads text."""
    await _send(update, context, lambda s, lang: s.replies.non_text(lang))


async def ignore_edit(update: Update, context: Context) -> None:
    """Edited messages are not questions again (the answer is already in the chat); stop here
    so no later handler group sees them either."""
    log.debug("%s edited message ignored", where(update))
    raise ApplicationHandlerStop
