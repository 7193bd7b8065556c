"""Inline-button presses (callback queries): always answered, content sent as new messages.

Why new messages rather than editing the pressed one: the pressed message is usually an answer
the user may want to reread (story, "did you mean" list, topics), so a story, a lesson or the
full post goes below it and the chat reads like a conversation. The exception is feedback:
its buttons are removed from the message after the vote (an edit), so nobody votes twice.
"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest

from bot.chat.replies import parse_callback
from bot.transports.telegram.common import (
    Context,
    command_language,
    record_feedback,
    services_of,
    where,
)
from bot.transports.telegram.render import MAX_TOAST, plain, send_replies, without_buttons

log = logging.getLogger(__name__)

# The callback data bot.chat.replies produces ("t" alone is the topics button, "t@en" the same with
# its language); anything else (e.g. the team module's) is not ours.
PATTERN = r"^(s:|f:|l:|fb:|t$|t@)"


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

    if callback is not None and callback.kind == "feedback" and callback.anecdote_id:
        if services.kb.by_id(callback.anecdote_id) is None:
            # Forged, or a story removed since: no vote for a story that does not exist.
            expired = services.replies.button_expired(lang)
            await query.answer(plain(expired.text, MAX_TOAST))
            return
        positive = callback.number == 1
        await record_feedback(
            services,
            chat_id=chat_id if chat_id is not None else query.from_user.id,
            user_id=query.from_user.id,
            anecdote_id=callback.anecdote_id,
            positive=positive,
            message_id=message.message_id if message is not None else None,
        )
        thanks = services.replies.feedback_thanks(lang, positive)
        await query.answer(plain(thanks.text, MAX_TOAST))
        markup = message.reply_markup if message is not None and message.is_accessible else None
        left = without_buttons(markup, "fb:")  # type: ignore[arg-type]
        # Only while the vote buttons are still there: a press repeated (or forged) on a
        # message without them must not spend the chat's message budget (20 a minute in a
        # group) on edits that change nothing.
        if markup is not None and left != markup:
            try:
                await query.edit_message_reply_markup(left)
            except BadRequest as exc:  # a double tap already removed them
                log.debug("%s feedback buttons already gone: %s", where(update), exc)
        return

    replies = services.replies.on_button(data, lang)
    await query.answer()
    if chat_id is None:
        # Pressed on a message posted through inline mode: there is no chat to write into.
        log.info("%s button on an inline message, nothing to send", where(update))
        return
    # In a forum group, stay in the topic the button was pressed in.
    in_topic = isinstance(message, Message) and message.is_topic_message
    thread_id = message.message_thread_id if in_topic else None  # type: ignore[union-attr]
    await send_replies(context.bot, chat_id, replies, thread_id=thread_id)


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
