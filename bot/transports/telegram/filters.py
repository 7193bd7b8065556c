"""Message filters that need the bot's own identity, known only after getMe.

`filters.Mention` wants the username when the handler is built, before `initialize()` has
asked Telegram who we are; these filters read it from the bot at check time instead, so the
same Application works for whatever bot the token belongs to.
"""

from __future__ import annotations

import re

from telegram import Message, MessageEntity
from telegram.ext import filters


def bot_identity(message: Message) -> tuple[int, str]:
    bot = message.get_bot()
    return bot.id, bot.username


def mentions_bot(message: Message) -> bool:
    """The text @mentions this bot (or text-mentions it by id, for bots without username)."""
    bot_id, username = bot_identity(message)
    wanted = f"@{username}".lower()
    entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    for entity, text in entities.items():
        if entity.type == MessageEntity.MENTION and text.lower() == wanted:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            return True
    return False


def replies_to_bot(message: Message) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_identity(message)[0])


def strip_mention(message: Message, text: str) -> str:
    """The question without the bot's @username and the punctuation people put after it."""
    _, username = bot_identity(message)
    text = re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    return text.strip(" \t\n,.:;!-–—")


class _AddressedToBot(filters.MessageFilter):
    """A group message meant for us: it mentions the bot or replies to one of its messages.
    (Privacy mode already filters like this on Telegram's side; this keeps us correct when
    privacy mode is off or the bot is an admin and sees every message.)"""

    def filter(self, message: Message) -> bool:
        return replies_to_bot(message) or mentions_bot(message)


class _CommandForMe(filters.MessageFilter):
    """A /command we should react to when it is unknown: any in private chats, in groups only
    `/cmd@ourbot` (a bare `/cmd` in a group may be meant for another bot)."""

    def filter(self, message: Message) -> bool:
        if message.chat.type == "private":
            return True
        text = message.text or ""
        _, username = bot_identity(message)
        return bool(re.match(rf"/\w+@{re.escape(username)}\b", text, flags=re.IGNORECASE))


ADDRESSED_TO_BOT = _AddressedToBot(name="ADDRESSED_TO_BOT")
COMMAND_FOR_ME = _CommandForMe(name="COMMAND_FOR_ME")
