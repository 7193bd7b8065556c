"""Finding out, for the core's access rule, whether a sender administers a group.

The rule itself is `bot.chat.access`; this module only supplies the one fact that costs a Bot
API request (getChatMember). Its answer is cached for ADMIN_CACHE_SECONDS so a burst of
commands costs one request, even when the burst is handled concurrently; an anonymous admin
posting as the group counts too. A button press is judged by the presser alone (`from`, never
the message's `sender_chat`, which describes whoever posted the message the button sits on),
and a press that decides something asks Telegram afresh (`fresh`), so an admin demoted a moment
ago cannot decide on a cached answer.

A member refused is told so at most once per REFUSAL_QUIET_SECONDS in that chat: each answer
counts against the group's 20 messages a minute, which a member repeating /tipnow would
otherwise spend, delaying the leads' own replies and the daily tip.

Both caches are `cachetools.TTLCache`s on an injectable `timer`, so they stay bounded and a
test moves their clock instead of reaching into them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cachetools import TTLCache
from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

log = logging.getLogger(__name__)

ADMIN_CACHE_SECONDS = 60.0
REFUSAL_QUIET_SECONDS = 60.0
# How many answers each cache keeps at most (the least recently used go first): enough for
# every member active within a minute of a busy bot, bounded so a flood cannot grow memory.
LEADS_KEPT = 4096
REFUSALS_KEPT = 1024
LEAD_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
ADMINS_KEY = "kisah.admins"


class Admins:
    """The administrator lookups and the refusal memory of one Application."""

    def __init__(self, *, timer: Callable[[], float] = time.monotonic) -> None:
        # getChatMember's answer per (chat, user), trusted for ADMIN_CACHE_SECONDS.
        self._admins: TTLCache[tuple[int, int], bool] = TTLCache(
            LEADS_KEPT, ADMIN_CACHE_SECONDS, timer=timer
        )
        self._lookups: dict[tuple[int, int], asyncio.Task[bool]] = {}  # getChatMember in flight
        # Who was told "only team leads" in which chat, within REFUSAL_QUIET_SECONDS.
        self._refused: TTLCache[tuple[int, int], bool] = TTLCache(
            REFUSALS_KEPT, REFUSAL_QUIET_SECONDS, timer=timer
        )

    async def is_group_admin(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, *, fresh: bool = False
    ) -> bool:
        """Whether the sender of a command, or the presser of a button, administers the group
        the update came from. `fresh`: ask Telegram now rather than trust the cached answer."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return False
        # A command's own message; a button's message was posted by the bot, not the presser.
        message = None if update.callback_query else update.effective_message
        if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator, posting as the group itself
        if user is None:
            return False
        key = (chat.id, user.id)
        cached = self._admins.get(key)
        if not fresh and cached is not None:
            return cached
        # Commands arriving together (updates run concurrently) share one lookup.
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = asyncio.create_task(self._lookup(context, key, update.update_id))
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(key, None))
        return await asyncio.shield(lookup)

    async def _lookup(
        self, context: ContextTypes.DEFAULT_TYPE, key: tuple[int, int], update_id: int
    ) -> bool:
        chat_id, user_id = key
        try:
            member = await context.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning(
                "getChatMember failed chat_id=%s user_id=%s update_id=%s: %s",
                chat_id,
                user_id,
                update_id,
                exc,
            )
            return False  # not cached: the next try asks Telegram again
        allowed = member.status in LEAD_STATUSES
        self._admins[key] = allowed
        return allowed

    def refusal_due(self, chat_id: int, user_id: int | None) -> bool:
        """True when this user was not refused in this chat within REFUSAL_QUIET_SECONDS
        (and from now on counts as refused); repeated refusals are answered once."""
        if user_id is None:
            return True
        key = (chat_id, user_id)
        if key in self._refused:
            return False
        self._refused[key] = True
        return True


def install(application: Application, *, timer: Callable[[], float] = time.monotonic) -> Admins:
    """The Application's one `Admins` (created on the first call; `timer`: see the module)."""
    admins = application.bot_data.get(ADMINS_KEY)
    if admins is None:
        admins = application.bot_data[ADMINS_KEY] = Admins(timer=timer)
    return admins


def admins_of(context: ContextTypes.DEFAULT_TYPE) -> Admins:
    """The Application's `Admins`; installed with the real clock if nobody installed one (an
    Application without the team handlers may still carry a row with an access rule)."""
    return install(context.application)
