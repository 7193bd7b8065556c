"""The error handler: log the failure with its update, answer the user politely, carry on.

python-telegram-bot calls this for any exception a handler raises (and for polling errors,
with no update). The bot must keep running, so this handler itself never raises: every send
here is guarded, and the polite answer comes from `Replies.error` like every other text.
"""

from __future__ import annotations

import logging
import traceback

from telegram import Update
from telegram.error import Forbidden, NetworkError, TelegramError

from bot.transports.telegram.common import Context, services_of, update_language, where
from bot.transports.telegram.ratelimit import NotSentStopping
from bot.transports.telegram.render import MAX_TOAST, plain, send_reply

log = logging.getLogger(__name__)


def _origin(error: BaseException) -> str:
    """file:line in function of the innermost frame: enough to find the bug from one line."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "-"
    frame = frames[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if error is None:
        return
    if not isinstance(update, Update):
        # Polling/network trouble: PTB retries by itself; one line, no traceback.
        level = logging.WARNING if isinstance(error, NetworkError) else logging.ERROR
        log.log(level, "error outside an update: %r", error)
        return
    if isinstance(error, NotSentStopping):  # a stop let go of it; the question is on record
        log.info("%s stopping: reply not sent", where(update))
        return
    if isinstance(error, Forbidden):
        log.warning("%s cannot write to this chat (blocked or removed): %s", where(update), error)
        return
    log.error("%s handler failed: %r at %s", where(update), error, _origin(error))
    log.debug("%s traceback", where(update), exc_info=error)
    services = services_of(context)
    lang = await update_language(services, update)
    reply = services.replies.error(lang)
    if update.callback_query is not None:
        try:  # stops the button's spinner; fails harmlessly if it was already answered
            await update.callback_query.answer(plain(reply.text, MAX_TOAST))
        except TelegramError as exc:
            log.debug("%s callback already answered: %r", where(update), exc)
    chat = update.effective_chat
    if chat is None or update.inline_query is not None:
        return
    try:
        await send_reply(context.bot, chat.id, reply)
    except TelegramError as exc:
        log.warning("%s could not send the error reply: %r", where(update), exc)
