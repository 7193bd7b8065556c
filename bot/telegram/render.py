"""Reply -> Telegram: HTML parse mode, inline keyboards, and Telegram's size limits.

`Replies` already keeps every text under 4096 characters and every callback under 64 bytes;
this module re-checks at the border because a violation here means Telegram rejects the whole
message and the user gets nothing. Splitting is a safety net (on paragraph boundaries), a bad
button is dropped with an error log rather than losing the message it sits on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import MessageLimit, ParseMode

from bot.replies import MAX_CALLBACK_BYTES, Reply, html_to_text

# Telegram's length (UTF-16 code units) measured exactly as the replies were built with it.
from bot.replies import message_length as utf16_len

log = logging.getLogger(__name__)

MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
MAX_TOAST = 200  # answerCallbackQuery text limit
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


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


def _safe_cut(text: str, limit: int) -> int:
    """Largest index <= limit (in UTF-16 units) that does not cut a tag or an entity."""
    cut = len(text)
    while utf16_len(text[:cut]) > limit:
        cut = min(cut - 1, limit)
    for opener, closer in (("<", ">"), ("&", ";")):
        start = text.rfind(opener, 0, cut)
        if start != -1 and text.find(closer, start, cut) == -1:
            cut = start
    return max(cut, 1)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split into messages of at most `limit` characters, on paragraph, then line, then word
    boundaries. Tags are assumed not to span paragraphs (true for every template we ship)."""
    if utf16_len(text) <= limit:
        return [text]
    for separator in ("\n\n", "\n", " "):
        if separator in text:
            parts = text.split(separator)
            chunks: list[str] = []
            current = ""
            for part in parts:
                candidate = f"{current}{separator}{part}" if current else part
                if utf16_len(candidate) <= limit:
                    current = candidate
                    continue
                if current:
                    chunks.append(current)
                if utf16_len(part) <= limit:
                    current = part
                else:
                    pieces = split_text(part, limit)
                    chunks.extend(pieces[:-1])
                    current = pieces[-1]
            if current:
                chunks.append(current)
            return [c for c in chunks if c.strip()]
    cut = _safe_cut(text, limit)
    return [text[:cut], *split_text(text[cut:], limit)]


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
    """Send one Reply (split if it ever had to be), buttons on the last part. `thread_id`
    keeps an answer in the forum topic it was asked in (a quote does that by itself)."""
    parts = split_text(reply.text)
    if len(parts) > 1:
        log.warning("reply over %d characters split into %d messages", MAX_TEXT, len(parts))
    markup = keyboard(reply)
    sent: list[Message] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        sent.append(
            await bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                link_preview_options=NO_PREVIEW,
                message_thread_id=thread_id,
                reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to is not None and index == 0
                    else None
                ),
            )
        )
    return sent


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
    return InputTextMessageContent(
        split_text(reply.text)[0], parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
    )


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
