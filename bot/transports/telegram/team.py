"""Team-lead commands and the daily-tip job in Telegram: /daily, /timezone, /tipnow, /stats,
/inbox and the inbox's buttons.

A thin shell, as the rest of `bot/transports/telegram`: the team rows of the command table
and the team's buttons go through the one command and button handlers (`handlers.command`,
`handlers.button`: access decided in the core, `deliver` for every field of the outcome); who
administers a group is found out in `admins.py`. This module registers them, follows the bot's
membership (removed, blocked, a group migrated) and turns Bot API errors of the daily tips into
the delivery runner's terms.

Delivery: JobQueue keeps no jobs across restarts, so nothing per chat is scheduled there. One
repeating job ticks every minute (just after the minute turns) and asks the database what is
due; a first tick right after start catches up on tips missed while the bot was down. The
`DeliveryRunner` (bot/leads/schedule.py) paces the broadcast and keeps it exactly-once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
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

from bot.chat.commands import BUTTONS, COMMANDS
from bot.chat.replies import Reply
from bot.chat.request import Env
from bot.leads import digest as digests
from bot.leads import quiz as practice
from bot.leads import tips
from bot.leads.hearback import HearbackRunner, Hooks
from bot.leads.schedule import (
    ChatMoved,
    ChatUnreachable,
    Delivery,
    DeliveryNotSent,
    DeliveryRejected,
    DeliveryRetryAfter,
    DeliveryRunner,
)
from bot.transports.telegram import admins, handlers
from bot.transports.telegram.common import (
    SERVICES_KEY,
    TEAM_KEY,
    retry_after_seconds,
)
from bot.transports.telegram.quizzes import deliver_picture, send_quiz
from bot.transports.telegram.ratelimit import Handover, HandoverRateLimiter, NotSentStopping
from bot.transports.telegram.render import keyboard

if TYPE_CHECKING:
    from bot.chat.services import Services

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0
# The commands this module handles: the team-lead rows of the command table.
TEAM_COMMANDS = tuple(command for command in COMMANDS if command.team)


def _certainly_not_sent(exc: NetworkError) -> bool:
    """True when the request never reached Telegram (no connection, no pool slot)."""
    return isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


@contextmanager
def delivery_errors() -> Iterator[None]:
    """A scheduled send's Bot API errors as the delivery runners' own (bot/leads/schedule.py):
    the same for tips, quizzes, hear-backs and the weekly picture. Network errors are left to
    the caller, which alone knows whether its request may have reached Telegram."""
    try:
        yield
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


class Team:
    """The daily-tip job and the membership updates of one Application."""

    def __init__(self, application: Application, services: Services) -> None:
        self.application = application
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.kb = services.kb
        self.env = Env(services.replies, services.store, services.settings)
        self.runner = DeliveryRunner(
            services.store,
            lambda: tips.deck(self.kb),
            self.send_tip,
            default_timezone=self.settings.timezone,
            send_marks_handover=True,
            quiz_deck=lambda: practice.deck(self.kb),
        )
        # Every Monday at the team's daily time: the weekly picture (bot/leads/digest.py).
        self.digests = digests.DigestRunner(
            services.store, self.send_weekly_digest, default_timezone=self.settings.timezone
        )
        self.hearbacks = HearbackRunner(services.store, services.replies, self.send_hearback)

    # -- plumbing -----------------------------------------------------------------------------

    def handlers(self) -> list[BaseHandler]:
        return [
            # The team rows of the command table, through the one command handler (access
            # decided in the core from the facts the handler finds out).
            *(CommandHandler(row.name, handlers.command(row)) for row in TEAM_COMMANDS),
            # The bot was removed or blocked: stop the subscription now rather than at the
            # next delivery's 403. A group upgraded to a supergroup: follow it to its new id.
            ChatMemberHandler(self.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER),
            # The team's buttons of the button table (the inbox's): checked on every press.
            *(
                CallbackQueryHandler(handlers.button(route), pattern=route.pattern)
                for route in BUTTONS
                if route.team
            ),
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
        job_queue.run_repeating(
            self._digest_job, interval=TICK_SECONDS, first=first + 5, name="kisah-weekly-digest"
        )

    async def _tick_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.hearbacks.kick()  # started by the first tick; retries at least once a minute
        await self.runner.tick()

    async def _digest_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        # A job of its own: drawing many teams' pictures on a Monday must not hold up the tips.
        await self.digests.tick()

    async def stop(self) -> None:
        """At a stop: no more hear-backs (those not sent wait in the outbox)."""
        await self.hearbacks.stop()

    # -- membership ---------------------------------------------------------------------------

    async def bot_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        if change.new_chat_member.status in {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}:
            if change.chat.type == ChatType.PRIVATE:  # blocked: no weekly picture there either
                await asyncio.to_thread(self.store.forget_private_user, change.chat.id)
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
        await self.move_chat(message.chat.id, message.migrate_to_chat_id, update.update_id)

    async def move_chat(self, old_chat_id: int, new_chat_id: int, update_id: int | None) -> None:
        """A group became a supergroup: what the store keeps about it (settings, tips,
        questions, the inbox's decisions, quiz history) and what its admins taught the matcher
        follow it."""
        await asyncio.to_thread(self.store.move_chat, old_chat_id, new_chat_id)
        taught = self.services.matcher.taught.move_scope(old_chat_id, new_chat_id)
        log.info(
            "group migrated chat_id=%s new_chat_id=%s taught=%s update_id=%s",
            old_chat_id,
            new_chat_id,
            taught,
            update_id,
        )

    # -- delivery -------------------------------------------------------------------------------

    async def send_tip(self, delivery: Delivery) -> int:
        """Send one scheduled tip; Bot API errors become the runner's delivery exceptions."""
        lang = delivery.language or self.settings.default_language
        poll = None
        if practice.is_quiz_key(delivery.tip_key):
            poll = practice.poll_for(self.env, delivery.tip_key, lang)
            if poll is None:
                raise DeliveryRejected(f"quiz {delivery.tip_key} is no longer in the stories")
        else:
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
            with delivery_errors():
                if poll is not None:
                    message = await send_quiz(
                        bot,
                        self.store,
                        delivery.chat_id,
                        poll,
                        delivery_id=delivery.id,
                        rate_limit_args=handover if limited else None,
                    )
                else:
                    message = await bot.send_message(
                        chat_id=delivery.chat_id,
                        text=reply.text,
                        reply_markup=keyboard(reply),
                        rate_limit_args=handover if limited else None,
                    )
        except ChatMoved as moved:
            # The runner moves the store's records; what the group taught moves here.
            self.services.matcher.taught.move_scope(delivery.chat_id, moved.new_chat_id)
            raise
        except (TimedOut, NetworkError) as exc:
            if isinstance(exc, NotSentStopping) or _certainly_not_sent(exc):
                raise DeliveryNotSent(str(exc)) from exc
            raise  # may have reached Telegram: the runner records it as unknown
        return message.message_id

    async def send_weekly_digest(self, chat_id: int, language: str | None) -> bool:
        """The Monday picture for one team (DigestRunner decided it is due and claimed it);
        False when the team has nothing to show."""
        lang = language or self.settings.default_language
        data = await asyncio.to_thread(digests.gather, self.env, chat_id, lang)
        if digests.is_empty(data):
            return False
        picture = await asyncio.to_thread(digests.picture, self.env, chat_id, lang, data)
        with delivery_errors():  # a refusal is e.g. no right to send photos
            await deliver_picture(self.application.bot, self.store, chat_id, picture)
        return True

    async def send_hearback(self, chat_id: int, reply: Reply, hooks: Hooks) -> int:
        """Send one hear-back message behind the live answers (background priority in the
        rate limiter); Bot API errors become the runner's exceptions. Telegram's 500 or 502
        (an error answer, not a broken connection) means not sent: tried again."""
        bot = self.application.bot
        limited = isinstance(bot.rate_limiter, HandoverRateLimiter)
        if not limited:
            await hooks.leaving()
        handover = Handover(leaving=hooks.leaving, refused=hooks.refused, background=True)
        try:
            with delivery_errors():
                message = await bot.send_message(
                    chat_id=chat_id,
                    text=reply.text,
                    reply_markup=keyboard(reply),
                    rate_limit_args=handover if limited else None,
                )
        except TimedOut:
            raise  # may have reached Telegram: unknown
        except NetworkError as exc:
            answered = exc.__cause__ is None  # Telegram's own error status (500, 502, ...)
            if answered or isinstance(exc, NotSentStopping) or _certainly_not_sent(exc):
                raise DeliveryNotSent(exc.message) from exc
            raise
        return message.message_id


def register(
    application: Application,
    services: Services,
    *,
    timer: Callable[[], float] = time.monotonic,
) -> Team:
    """Add the team-lead commands, their buttons and the daily-tip job to `application`
    (`timer`: the clock of the admin and refusal caches, bot/transports/telegram/admins.py).

    Call it before any catch-all "unknown command" handler of the same group, or that one
    would answer /daily first.
    """
    application.bot_data.setdefault(SERVICES_KEY, services)
    admins.install(application, timer=timer)
    team = Team(application, services)
    application.add_handlers(team.handlers())
    team.schedule_jobs()
    application.bot_data[TEAM_KEY] = team
    return team
