"""Team-lead commands and the daily-tip job in Telegram: /daily, /timezone, /tipnow, /stats,
/inbox and the inbox's buttons.

A thin shell, as the rest of `bot/transports/telegram`: what to say and what to store is
decided by the builders the command table names (`bot.chat.commands`, `bot.leads.team`); this
module checks the table's
access rule for the sender (getChatMember), runs the builder in a worker thread (so SQLite
never blocks the event loop), sends what comes back, and turns Bot API errors of the daily
tips into the delivery runner's terms.

Who is a team lead: a user listed in TEAM_LEAD_IDS, or an administrator/creator of the group
the command was sent in (getChatMember, cached for ADMIN_CACHE_SECONDS so a burst of commands
costs one request, even when the burst is handled concurrently); an anonymous admin posting as
the group counts too. A button press is judged by the presser alone (`from`, never the
message's `sender_chat`, which describes whoever posted the message the button sits on), and a
press that decides something asks Telegram afresh, so an admin demoted a moment ago cannot
decide on a cached answer. In a private chat, everyone manages their own subscription. A member
refused is told so at most once per REFUSAL_QUIET_SECONDS in that chat: each answer counts
against the group's 20 messages a minute, which a member repeating /tipnow would otherwise
spend, delaying the leads' own replies and the daily tip.

Delivery: JobQueue keeps no jobs across restarts, so nothing per chat is scheduled there. One
repeating job ticks every minute (just after the minute turns) and asks the database what is
due; a first tick right after start catches up on tips missed while the bot was down. The
`DeliveryRunner` (bot/leads/schedule.py) paces the broadcast and keeps it exactly-once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
from cachetools import TTLCache
from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.chat.commands import COMMANDS, Command
from bot.chat.request import Env, Notice, Outcome, Request
from bot.leads import inbox, tips
from bot.leads.schedule import (
    ChatMoved,
    ChatUnreachable,
    Delivery,
    DeliveryNotSent,
    DeliveryRejected,
    DeliveryRetryAfter,
    DeliveryRunner,
)
from bot.leads.team import only_leads
from bot.transports.telegram.common import command_language, retry_after_seconds
from bot.transports.telegram.ratelimit import Handover, HandoverRateLimiter
from bot.transports.telegram.render import MAX_TOAST, keyboard, plain

if TYPE_CHECKING:
    from telegram import Message

    from bot.chat.replies import Reply
    from bot.chat.services import Services

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0
ADMIN_CACHE_SECONDS = 60.0
REFUSAL_QUIET_SECONDS = 60.0
# How many answers each cache keeps at most (the least recently used go first): enough for
# every member active within a minute of a busy bot, bounded so a flood cannot grow memory.
LEADS_KEPT = 4096
REFUSALS_KEPT = 1024
LEAD_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
# The commands this module handles: the team-lead rows of the command table.
TEAM_COMMANDS = tuple(command for command in COMMANDS if command.team)


def _certainly_not_sent(exc: NetworkError) -> bool:
    """True when the request never reached Telegram (no connection, no pool slot)."""
    return isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class Team:
    """The team-lead handlers and the delivery job of one Application.

    `timer` (seconds, monotonic) is the clock of the two short-lived caches: who is an
    administrator, who was refused lately. A test passes a clock it moves by hand."""

    def __init__(
        self,
        application: Application,
        services: Services,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.application = application
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.kb = services.kb
        self.env = Env(services.replies, services.store, services.settings)
        # getChatMember's answer per (chat, user), trusted for ADMIN_CACHE_SECONDS.
        self._leads: TTLCache[tuple[int, int], bool] = TTLCache(
            LEADS_KEPT, ADMIN_CACHE_SECONDS, timer=timer
        )
        self._lookups: dict[tuple[int, int], asyncio.Task[bool]] = {}  # getChatMember in flight
        # Who was told "only team leads" in which chat, within REFUSAL_QUIET_SECONDS.
        self._refused: TTLCache[tuple[int, int], bool] = TTLCache(
            REFUSALS_KEPT, REFUSAL_QUIET_SECONDS, timer=timer
        )
        self.runner = DeliveryRunner(
            services.store,
            lambda: tips.deck(self.kb),
            self.send_tip,
            default_timezone=self.settings.timezone,
            send_marks_handover=True,
        )

    # -- plumbing -----------------------------------------------------------------------------

    def handlers(self) -> list[BaseHandler]:
        return [
            *(CommandHandler(command.name, self.command(command)) for command in TEAM_COMMANDS),
            # The bot was removed or blocked: stop the subscription now rather than at the
            # next delivery's 403. A group upgraded to a supergroup: follow it to its new id.
            ChatMemberHandler(self.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER),
            # The inbox's buttons: checked like its command, on every press (bot/leads/inbox.py).
            CallbackQueryHandler(self.inbox_button, pattern=inbox.PATTERN),
            MessageHandler(filters.StatusUpdate.MIGRATE, self.migrated),
        ]

    def schedule_jobs(self) -> None:
        """A catch-up tick right after start, then one tick just after every minute turns."""
        job_queue = self.application.job_queue
        if job_queue is None:
            raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
        job_queue.run_once(self._tick_job, when=1.0, name="kisah-daily-catch-up")
        first = TICK_SECONDS - (datetime.now().timestamp() % TICK_SECONDS) + 1.0
        job_queue.run_repeating(
            self._tick_job, interval=TICK_SECONDS, first=first, name="kisah-daily-tips"
        )

    async def _tick_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.runner.tick()

    async def _lang(self, update: Update) -> str:
        """The command language, decided as for every other command (`command_language`:
        the chat's /lang, the user's app language, BOT_LANGUAGE); the store read inside runs
        in a worker thread, never on the event loop."""
        chat = update.effective_chat
        return await command_language(
            self.services, chat.id if chat else None, update.effective_user
        )

    async def _send(self, update: Update, reply: Reply) -> Message:
        """Team replies go to the chat without quoting the command (as they always have)."""
        chat = update.effective_chat
        assert chat is not None
        return await chat.send_message(reply.text, reply_markup=keyboard(reply))

    async def is_team_lead(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, *, fresh: bool = False
    ) -> bool:
        """Whether the sender of a command, or the presser of a button, leads this chat.
        `fresh`: ask Telegram now rather than trust the cached answer (a press that decides)."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return False
        if chat.type == ChatType.PRIVATE:
            return True  # everyone manages their own subscription
        if user is not None and user.id in self.settings.team_lead_ids:
            return True
        # A command's own message; a button's message was posted by the bot, not the presser.
        message = None if update.callback_query else update.effective_message
        if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator, posting as the group itself
        if user is None:
            return False
        key = (chat.id, user.id)
        cached = self._leads.get(key)
        if not fresh and cached is not None:
            return cached
        # Commands arriving together (updates run concurrently) share one lookup.
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = asyncio.create_task(self._lookup_lead(context, key, update.update_id))
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(key, None))
        return await asyncio.shield(lookup)

    async def _lookup_lead(
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
        self._leads[key] = allowed
        return allowed

    def _refusal_due(self, chat_id: int, user_id: int | None) -> bool:
        """True when this user was not refused in this chat within REFUSAL_QUIET_SECONDS
        (and from now on counts as refused); repeated refusals are answered once."""
        if user_id is None:
            return True
        key = (chat_id, user_id)
        if key in self._refused:
            return False
        self._refused[key] = True
        return True

    async def _require_lead(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str, command: str
    ) -> bool:
        if await self.is_team_lead(update, context):
            return True
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None  # every command returns early without a chat
        if not self._refusal_due(chat.id, user.id if user else None):
            log.debug(
                "team command refused silently (refused recently) command=%s chat_id=%s "
                "user_id=%s update_id=%s",
                command,
                chat.id,
                user.id if user else None,
                update.update_id,
            )
            return False
        log.info(
            "team command refused command=%s chat_id=%s user_id=%s update_id=%s",
            command,
            chat.id if chat else None,
            user.id if user else None,
            update.update_id,
        )
        await self._send(update, only_leads(self.env, lang))
        return False

    # -- the commands ---------------------------------------------------------------------

    def command(
        self, row: Command
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
        """The handler of one team-lead row: the table's access rule, then its builder."""

        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            chat = update.effective_chat
            if chat is None:
                return
            lang = await self._lang(update)
            args = context.args or []
            if row.access.needs_lead(args) and not await self._require_lead(
                update, context, lang, row.name
            ):
                return
            request = self._request(update, lang, " ".join(args))
            outcome = await asyncio.to_thread(row.build, self.env, request)
            await self._deliver(update, outcome)

        handle.__name__ = handle.__qualname__ = f"team_{row.name}"
        return handle

    def _request(self, update: Update, lang: str, text: str = "") -> Request:
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None
        return Request(
            chat_id=chat.id,
            user_id=user.id if user else None,
            text=text,
            lang=lang,
            bot_wide_lead=user is not None and user.id in self.settings.team_lead_ids,
            update_id=update.update_id,
            private=chat.type == ChatType.PRIVATE,
        )

    async def inbox_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on an inbox button: only a team lead of the chat it sits in gets past
        this (a member's press, forged or not, changes nothing and is told so); the inbox
        then checks the question against what this lead may decide."""
        query = update.callback_query
        assert query is not None
        chat, user = update.effective_chat, update.effective_user
        lang = await self._lang(update)
        if chat is None:  # a message sent through inline mode: no chat, no inbox there
            await query.answer(plain(self.services.replies.button_expired(lang).text, MAX_TOAST))
            return
        press = inbox.parse(query.data or "")
        deciding = press is not None and press.action != "page"
        if not await self.is_team_lead(update, context, fresh=deciding):
            log.info(
                "inbox press refused chat_id=%s user_id=%s update_id=%s data=%s",
                chat.id,
                user.id if user else None,
                update.update_id,
                (query.data or "")[:64],
            )
            await query.answer(plain(only_leads(self.env, lang).text, MAX_TOAST))
            return
        request = self._request(update, lang)
        outcome = await asyncio.to_thread(inbox.on_button, self.env, request, query.data or "")
        await query.answer()
        await self._deliver(update, outcome)

    async def _notify(self, notice: Notice, update_id: int) -> None:
        """Tell the asker: in the chat where they asked, once (the store saw to that). A
        chat that blocked the bot or is gone is logged, as for the daily tips."""
        bot = self.application.bot
        try:
            for reply in notice.replies:
                await bot.send_message(
                    chat_id=notice.chat_id,
                    text=reply.text,
                    reply_markup=keyboard(reply),
                )
        except (Forbidden, ChatMigrated, BadRequest) as exc:
            log.info(
                "asker not told (chat unreachable) chat_id=%s question=%s update_id=%s: %s",
                notice.chat_id,
                notice.question_id,
                update_id,
                exc,
            )
        except TelegramError as exc:
            log.warning(
                "asker not told chat_id=%s question=%s update_id=%s: %s",
                notice.chat_id,
                notice.question_id,
                update_id,
                exc,
            )
        else:
            log.info(
                "asker told chat_id=%s question=%s update_id=%s",
                notice.chat_id,
                notice.question_id,
                update_id,
            )

    async def _deliver(self, update: Update, outcome: Outcome) -> None:
        """Send the outcome; a tip taken by /tipnow is marked sent with its message's id, or
        `unknown` when the send failed (it may or may not have reached the chat)."""
        delivery_id = outcome.delivery_id
        for number, reply in enumerate(outcome.replies):
            if number or delivery_id is None:
                await self._send(update, reply)
                continue
            try:
                message = await self._send(update, reply)
            except BaseException as exc:
                await asyncio.to_thread(self.store.mark_delivery, delivery_id, "unknown", repr(exc))
                raise
            await asyncio.to_thread(self.store.mark_sent, delivery_id, message.message_id)
            log.info("tip sent now chat_id=%s update_id=%s", message.chat_id, update.update_id)
        for notice in outcome.notices:
            await self._notify(notice, update.update_id)

    # -- membership ---------------------------------------------------------------------------

    async def bot_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        if change.new_chat_member.status in {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}:
            stopped = await asyncio.to_thread(self.store.unsubscribe, change.chat.id)
            log.info(
                "bot removed or blocked chat_id=%s update_id=%s unsubscribed=%s",
                change.chat.id,
                update.update_id,
                stopped,
            )

    async def migrated(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.migrate_to_chat_id:
            return  # the twin service message in the new supergroup carries migrate_from
        await asyncio.to_thread(self.store.move_chat, message.chat.id, message.migrate_to_chat_id)
        log.info(
            "group migrated chat_id=%s new_chat_id=%s update_id=%s",
            message.chat.id,
            message.migrate_to_chat_id,
            update.update_id,
        )

    # -- delivery -------------------------------------------------------------------------------

    async def send_tip(self, delivery: Delivery) -> int:
        """Send one scheduled tip; Bot API errors become the runner's delivery exceptions."""
        lang = delivery.language or self.settings.default_language
        try:
            reply = self.services.replies.tip(delivery.tip_key, lang)
        except KeyError as exc:
            raise DeliveryRejected(f"tip {delivery.tip_key} is no longer in the deck") from exc
        bot = self.application.bot
        # Through HandoverRateLimiter the claim becomes `sending` when the request leaves the
        # limiter (bot/transports/telegram/ratelimit.py); with no limiter, or another, it is
        # marked here.
        limited = isinstance(bot.rate_limiter, HandoverRateLimiter)
        if not limited:
            await self.runner.handed_over(delivery)
        handover = Handover(
            leaving=lambda: self.runner.handed_over(delivery),
            refused=lambda: self.runner.not_handed_over(delivery),
        )
        try:
            message = await bot.send_message(
                chat_id=delivery.chat_id,
                text=reply.text,
                reply_markup=keyboard(reply),
                rate_limit_args=handover if limited else None,
            )
        except RetryAfter as exc:
            raise DeliveryRetryAfter(retry_after_seconds(exc)) from exc
        except Forbidden as exc:
            raise ChatUnreachable(exc.message) from exc
        except ChatMigrated as exc:
            raise ChatMoved(exc.new_chat_id) from exc
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise ChatUnreachable(exc.message) from exc
            raise DeliveryRejected(exc.message) from exc
        except (TimedOut, NetworkError) as exc:
            if _certainly_not_sent(exc):
                raise DeliveryNotSent(str(exc)) from exc
            raise  # may have reached Telegram: the runner records it as unknown
        return message.message_id


def register(
    application: Application,
    services: Services,
    *,
    timer: Callable[[], float] = time.monotonic,
) -> Team:
    """Add the team-lead commands and the daily-tip job to `application` (`timer`: see `Team`).

    Call it before any catch-all "unknown command" handler of the same group, or that one
    would answer /daily first.
    """
    team = Team(application, services, timer=timer)
    application.add_handlers(team.handlers())
    team.schedule_jobs()
    application.bot_data["kisah_team"] = team
    return team
