"""Inline-button presses (callback queries): always answered, content sent as new messages.

Why new messages rather than editing the pressed one: the pressed message is usually an answer
the user may want to reread (story, "did you mean" list, topics), so a story, a lesson or the
full seed goes below it and the chat reads like a conversation. The exception is feedback:
its buttons are removed from the message after the vote (an edit), so nobody votes twice.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest

from bot.chat.callbacks import parse_callback
from bot.chat.commands import BUTTONS
from bot.chat.request import Outcome
from bot.transports.telegram import handlers
from bot.transports.telegram.common import Context, command_language, services_of, where
from bot.transports.telegram.render import MAX_TOAST, plain, without_buttons

log = logging.getLogger(__name__)

# The route of the button table these presses belong to (the buttons under an answer).
ROUTE = next(route for route in BUTTONS if route.name == "story")
PATTERN = ROUTE.pattern


async def _remove_vote_buttons(update: Update, context: Context, outcome: Outcome) -> None:
    """Once a vote is counted, its buttons leave the message (an edit), so nobody votes twice;
    a forged vote, or one for a story removed since, leaves them (it was only told the button
    expired)."""
    query = update.callback_query
    assert query is not None
    callback = parse_callback(query.data or "")
    if callback is None or callback.kind != "feedback" or not callback.story_id:
        return
    message = query.message
    counted = services_of(context).kb.by_id(callback.story_id) is not None
    markup = message.reply_markup if message is not None and message.is_accessible else None
    left = without_buttons(markup, "fb:")  # type: ignore[arg-type]
    # Only while the vote buttons are still there: a press repeated (or forged) on a message
    # without them must not spend the chat's message budget (20 a minute in a group) on edits
    # that change nothing.
    if counted and markup is not None and left != markup:
        try:
            await query.edit_message_reply_markup(left)
        except BadRequest as exc:  # a double tap already removed them
            log.debug("%s feedback buttons already gone: %s", where(update), exc)


# The core answers the press (bot/chat/commands.py story_button: a vote recorded and thanked
# in a toast, or the story, lesson, full seed or topics sent below the pressed message).
on_button = handlers.button(ROUTE, after=_remove_vote_buttons)


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
