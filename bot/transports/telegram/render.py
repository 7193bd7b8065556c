"""Reply -> Telegram: inline keyboards and Telegram's size limits (the HTML parse mode and
the disabled link previews are the Application's `Defaults`, bot/transports/telegram/app.py).

A `Reply` cannot be built over Telegram's 4096 characters (bot/chat/markup.py splits long content
on paragraphs, the one splitter), so a reply is always one message. Callback data is checked
again at the border: a bad button is dropped with an error log rather than losing the message
it sits on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputTextMessageContent,
    Message,
    ReplyParameters,
)

from bot.chat.callbacks import MAX_CALLBACK_BYTES
from bot.chat.markup import html_to_text
from bot.chat.replies import Reply

log = logging.getLogger(__name__)

MAX_TOAST = 200  # answerCallbackQuery text limit


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's button rows as an inline keyboard; invalid buttons are dropped and logged."""
    rows: list[list[InlineKeyboardButton]] = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if not button.text.strip() or not 0 < len(button.data.encode()) <= MAX_CALLBACK_BYTES:
                log.error("dropping invalid button text=%r data=%r", button.text, button.data)
                continue
            buttons.append(InlineKeyboardButton(button.text, callback_data=button.data))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


def plain(text: str, limit: int | None = None) -> str:
    """HTML reply text as plain text (callback toasts and inline descriptions show no markup)."""
    result = html_to_text(text).strip()
    if limit is not None and len(result) > limit:
        result = result[: limit - 1].rstrip() + "…"
    return result


async def send_reply(
    bot: Bot,
    chat_id: int,
    reply: Reply,
    *,
    reply_to: int | None = None,
    thread_id: int | None = None,
) -> list[Message]:
    """Send one Reply with its buttons. `thread_id` keeps an answer in the forum topic it was
    asked in (a quote does that by itself)."""
    message = await bot.send_message(
        chat_id,
        reply.text,
        reply_markup=keyboard(reply),
        message_thread_id=thread_id,
        reply_parameters=(
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None
            else None
        ),
    )
    return [message]


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: Iterable[Reply],
    *,
    reply_to: int | None = None,
    thread_id: int | None = None,
) -> list[Message]:
    """Send several replies in order (e.g. a full story in parts); only the first quotes."""
    sent: list[Message] = []
    for reply in replies:
        sent.extend(
            await send_reply(
                bot, chat_id, reply, reply_to=None if sent else reply_to, thread_id=thread_id
            )
        )
    return sent


def inline_content(reply: Reply) -> InputTextMessageContent:
    """What an inline result posts into the chat: the reply's text, no buttons (a callback
    from an inline message has no chat to answer into)."""
    return InputTextMessageContent(reply.text)


def without_buttons(
    markup: InlineKeyboardMarkup | None, prefix: str
) -> InlineKeyboardMarkup | None:
    """The same keyboard minus the buttons whose callback data starts with `prefix`."""
    if markup is None:
        return None
    rows: list[Sequence[InlineKeyboardButton]] = []
    for row in markup.inline_keyboard:
        kept = [b for b in row if not (b.callback_data or "").startswith(prefix)]
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(rows) if rows else None
