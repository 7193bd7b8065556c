"""Inline-button presses (callback queries): always answered, content sent as new messages.

Why new messages rather than editing the pressed one: the pressed message is usually an answer
the user may want to reread (story, "did you mean" list, topics), so a story, a lesson or the
full post goes below it and the chat reads like a conversation. The exception is feedback:
its buttons are removed from the message after the vote (an edit), so nobody votes twice.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Chat, Message, Update
from telegram.error import BadRequest

from bot.chat.commands import BUTTONS
from bot.chat.replies import parse_callback
from bot.chat.request import Request
from bot.transports.telegram.common import Context, command_language, services_of, where
from bot.transports.telegram.handlers import env_of
from bot.transports.telegram.render import MAX_TOAST, plain, send_replies, without_buttons

log = logging.getLogger(__name__)

# The route of the button table these presses belong to (the buttons under an answer).
ROUTE = next(route for route in BUTTONS if route.name == "story")
PATTERN = ROUTE.pattern


async def on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    services = services_of(context)
    message = query.message
    chat_id = message.chat.id if message else None
    data = query.data or ""
    callback = parse_callback(data)
    # A button answers in the language of the message it sits under (an English answer in a
    # chat set to Indonesian stays English); older buttons without one use the chat's.
    lang = (callback.lang if callback else None) or await command_language(
        services, chat_id, query.from_user
    )
    log.info("%s button data=%s", where(update), data)
    user = query.from_user
    request = Request(
        chat_id=chat_id if chat_id is not None else user.id,
        user_id=user.id,
        text="",
        lang=lang,
        bot_wide_lead=user.id in services.settings.team_lead_ids,
        update_id=update.update_id,
        private=message is not None and message.chat.type == Chat.PRIVATE,
    )
    # The core answers the press and records a vote (bot/chat/commands.py story_button).
    outcome = await asyncio.to_thread(ROUTE.press, env_of(services), request, data)

    if callback is not None and callback.kind == "feedback" and callback.anecdote_id:
        # A vote is thanked in a toast, and its buttons leave the message so nobody votes twice
        # (a forged vote, or one for a story removed since, is only told the button expired).
        await query.answer(plain(outcome.replies[0].text, MAX_TOAST))
        counted = services.kb.by_id(callback.anecdote_id) is not None
        if counted and message is not None and message.is_accessible:
            try:
                await query.edit_message_reply_markup(
                    without_buttons(message.reply_markup, "fb:")  # type: ignore[union-attr]
                )
            except BadRequest as exc:  # a double tap already removed them
                log.debug("%s feedback buttons already gone: %s", where(update), exc)
        return

    await query.answer()
    if chat_id is None:
        # Pressed on a message posted through inline mode: there is no chat to write into.
        log.info("%s button on an inline message, nothing to send", where(update))
        return
    # In a forum group, stay in the topic the button was pressed in.
    in_topic = isinstance(message, Message) and message.is_topic_message
    thread_id = message.message_thread_id if in_topic else None  # type: ignore[union-attr]
    await send_replies(context.bot, chat_id, outcome.replies, thread_id=thread_id)


async def on_unknown_button(update: Update, context: Context) -> None:
    """Callback data no handler claims (forged, or from a format no longer made): answered,
    so the user's button spinner stops, with the "button expired" toast; nothing else."""
    query = update.callback_query
    assert query is not None
    services = services_of(context)
    chat_id = query.message.chat.id if query.message else None
    lang = await command_language(services, chat_id, query.from_user)
    log.info("%s unknown button data=%r", where(update), (query.data or "")[:64])
    await query.answer(plain(services.replies.button_expired(lang).text, MAX_TOAST))
