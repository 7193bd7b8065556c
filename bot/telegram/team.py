"""Team-lead commands and the daily-tip job: /daily, /timezone, /tipnow, /stats.

A thin shell, as the rest of `bot/telegram`: parsing and deciding live in `bot.schedule`,
`bot.tips` and `bot.store`; this module checks who may do what, calls into them (the store
through `asyncio.to_thread`, so SQLite never blocks the event loop), and sends what comes back.

Who is a team lead: a user listed in TEAM_LEAD_IDS, or an administrator/creator of the group
the command was sent in (getChatMember, cached for ADMIN_CACHE_SECONDS so a burst of commands
costs one request, even when the burst is handled concurrently); an anonymous admin posting as
the group counts too. In a private chat, everyone manages their own subscription. A member
refused is told so at most once per REFUSAL_QUIET_SECONDS in that chat: each answer counts
against the group's 20 messages a minute, which a member repeating /tipnow would otherwise
spend, delaying the leads' own replies and the daily tip.

Delivery: JobQueue keeps no jobs across restarts, so nothing per chat is scheduled there. One
repeating job ticks every minute (just after the minute turns) and asks the database what is
due; a first tick right after start catches up on tips missed while the bot was down. The
`DeliveryRunner` (bot/schedule.py) paces the broadcast and keeps it exactly-once.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time as monotonic_time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
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
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import tips
from bot.replies import UiTexts
from bot.schedule import (
    EVERY_DAY,
    WEEKDAYS,
    ChatMoved,
    ChatUnreachable,
    Delivery,
    DeliveryNotSent,
    DeliveryRejected,
    DeliveryRetryAfter,
    DeliveryRunner,
    Subscription,
    next_due,
    parse_days,
    parse_time,
    resolve_timezone,
    zone,
    zone_label,
)
from bot.telegram.common import command_language, retry_after_seconds
from bot.telegram.ratelimit import Handover, HandoverRateLimiter
from bot.telegram.render import keyboard

if TYPE_CHECKING:
    from bot.services import Services
    from bot.store import Stats

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0
ADMIN_CACHE_SECONDS = 60.0
REFUSAL_QUIET_SECONDS = 60.0
# Forget who was refused when this many are remembered (only entries older than the quiet time).
REFUSALS_KEPT = 1024
STATS_PERIODS = (7, 30)
STATS_TOP = 5
STATS_QUESTION_CHARS = 80
OFF_WORDS = frozenset({"off", "stop", "mati", "berhenti", "stop."})
LEAD_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
# Commands for Telegram's menu (setMyCommands, chat-administrator and private scopes); the
# descriptions live in responses/ui/team.yaml as team_cmd_<command>.
COMMANDS = ("daily", "timezone", "tipnow", "stats")

_SUBSCRIPTION = frozenset({"days", "time", "zone", "next"})
_CLOCK = frozenset({"zone", "local"})
# The texts this module reads from responses/ui/team.yaml, with their placeholders; checked
# at start and by `python -m bot check`. Plain ones are escaped before they go into a template
# (or are menu entries), so they must not carry markup themselves.
UI_TEXTS = UiTexts(
    "responses/ui/team.yaml",
    {
        "team_only_leads": frozenset(),
        "team_help": frozenset(),
        "team_days_every": frozenset(),
        "team_days_weekdays": frozenset(),
        "team_daily_set": _SUBSCRIPTION,
        "team_daily_show": _SUBSCRIPTION,
        "team_daily_none": frozenset({"zone"}),
        "team_daily_off": frozenset(),
        "team_daily_off_none": frozenset(),
        "team_daily_usage": frozenset({"given"}),
        "team_timezone_set": _CLOCK,
        "team_timezone_show": _CLOCK,
        "team_timezone_usage": frozenset({"given"}),
        "team_next_none": frozenset(),
        "team_next_at": frozenset({"weekday", "day", "month", "time"}),
        "team_weekday_names": frozenset(),
        "team_month_names": frozenset(),
        "team_tipnow_empty": frozenset(),
        "team_stats_title": frozenset(),
        "team_stats_this_chat": frozenset(),
        "team_stats_all_chats": frozenset(),
        "team_stats_period": frozenset({"days", "asked", "share", "up", "down"}),
        "team_stats_top_stories": frozenset({"days"}),
        "team_stats_unanswered": frozenset({"days"}),
        "team_stats_item": frozenset({"text", "count"}),
        "team_stats_nothing": frozenset(),
        "team_stats_private": frozenset(),
        "team_stats_daily": frozenset({"state"}),
        "team_stats_daily_off": frozenset(),
        **{f"team_cmd_{name}": frozenset() for name in COMMANDS},
    },
    plain=frozenset(
        {
            "team_days_every",
            "team_days_weekdays",
            "team_next_none",
            "team_next_at",
            "team_weekday_names",
            "team_month_names",
            "team_stats_daily_off",
            *(f"team_cmd_{name}" for name in COMMANDS),
        }
    ),
    words={"team_weekday_names": 7, "team_month_names": 12},
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=False)


def _certainly_not_sent(exc: NetworkError) -> bool:
    """True when the request never reached Telegram (no connection, no pool slot)."""
    return isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


@dataclass
class _Cached:
    allowed: bool
    until: float


class Team:
    """The team-lead handlers and the delivery job of one Application."""

    def __init__(self, application: Application, services: Services) -> None:
        self.application = application
        self.services = services
        self.settings = services.settings
        self.store = services.store
        self.kb = services.kb
        self.clock = services.store.clock
        self._leads: dict[tuple[int, int], _Cached] = {}
        self._lookups: dict[tuple[int, int], asyncio.Task[bool]] = {}  # getChatMember in flight
        self._refused: dict[tuple[int, int], float] = {}  # last refusal answered (monotonic)
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
            CommandHandler("daily", self.daily),
            CommandHandler("timezone", self.timezone),
            CommandHandler("tipnow", self.tipnow),
            CommandHandler("stats", self.stats),
            # The bot was removed or blocked: stop the subscription now rather than at the
            # next delivery's 403. A group upgraded to a supergroup: follow it to its new id.
            ChatMemberHandler(self.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER),
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

    def _t(self, key: str, lang: str, **values: object) -> str:
        return self.kb.text(key, lang, **values)

    async def _answer(self, update: Update, text: str) -> None:
        chat = update.effective_chat
        assert chat is not None
        await chat.send_message(text, parse_mode=ParseMode.HTML)

    async def is_team_lead(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None:
            return False
        if chat.type == ChatType.PRIVATE:
            return True  # everyone manages their own subscription
        if user is not None and user.id in self.settings.team_lead_ids:
            return True
        if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator, posting as the group itself
        if user is None:
            return False
        key = (chat.id, user.id)
        cached = self._leads.get(key)
        if cached and cached.until > monotonic_time.monotonic():
            return cached.allowed
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
        self._leads[key] = _Cached(allowed, monotonic_time.monotonic() + ADMIN_CACHE_SECONDS)
        return allowed

    def _refusal_due(self, chat_id: int, user_id: int | None) -> bool:
        """True when this user was not refused in this chat within REFUSAL_QUIET_SECONDS
        (and from now on counts as refused); repeated refusals are answered once."""
        if user_id is None:
            return True
        now = monotonic_time.monotonic()
        key = (chat_id, user_id)
        last = self._refused.get(key)
        if last is not None and now - last < REFUSAL_QUIET_SECONDS:
            return False
        if len(self._refused) >= REFUSALS_KEPT:
            old = now - REFUSAL_QUIET_SECONDS
            self._refused = {k: t for k, t in self._refused.items() if t > old}
        self._refused[key] = now
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
        await self._answer(update, self._t("team_only_leads", lang))
        return False

    # -- formatting ---------------------------------------------------------------------------

    def _zone_name(self, chat_id: int) -> str:
        return self.store.chat_timezone(chat_id) or self.settings.timezone

    def _days_text(self, days: int, lang: str) -> str:
        if days == WEEKDAYS:
            return self._t("team_days_weekdays", lang)
        return self._t("team_days_every", lang)

    def _when_text(self, moment: datetime | None, zone_name: str, lang: str) -> str:
        if moment is None:
            return self._t("team_next_none", lang)
        local = moment.astimezone(zone(zone_name))
        return self._t(
            "team_next_at",
            lang,
            weekday=self._t("team_weekday_names", lang).split()[local.weekday()],
            day=local.day,
            month=self._t("team_month_names", lang).split()[local.month - 1],
            time=local.strftime("%H:%M"),
        )

    def _subscription_text(self, key: str, sub: Subscription, lang: str) -> str:
        zone_name = sub.zone_name(self.settings.timezone)
        return self._t(
            key,
            lang,
            days=_e(self._days_text(sub.days, lang)),
            time=sub.at.strftime("%H:%M"),
            zone=_e(zone_label(zone_name)),
            next=_e(
                self._when_text(
                    next_due(sub, self.clock(), self.settings.timezone), zone_name, lang
                )
            ),
        )

    # -- /daily ---------------------------------------------------------------------------------

    async def daily(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/daily` shows, `/daily HH:MM [weekdays]` sets or changes, `/daily off` stops."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        lang = await self._lang(update)
        args = context.args or []
        if not args:
            sub = await asyncio.to_thread(self.store.subscription, chat.id)
            if sub is None:
                zone_name = await asyncio.to_thread(self._zone_name, chat.id)
                text = self._t("team_daily_none", lang, zone=_e(zone_label(zone_name)))
            else:
                text = self._subscription_text("team_daily_show", sub, lang)
            await self._answer(update, text)
            return
        if not await self._require_lead(update, context, lang, "daily"):
            return
        if len(args) == 1 and args[0].lower() in OFF_WORDS:
            stopped = await asyncio.to_thread(self.store.unsubscribe, chat.id)
            log.info(
                "daily tip stopped chat_id=%s user_id=%s update_id=%s had=%s",
                chat.id,
                user.id if user else None,
                update.update_id,
                stopped,
            )
            await self._answer(
                update, self._t("team_daily_off" if stopped else "team_daily_off_none", lang)
            )
            return
        try:
            if len(args) > 2:
                raise ValueError("too many arguments")
            at = parse_time(args[0])
            days = parse_days(args[1]) if len(args) == 2 else EVERY_DAY
        except ValueError:
            given = " ".join(args)[:40]
            await self._answer(update, self._t("team_daily_usage", lang, given=_e(given)))
            return
        sub = await asyncio.to_thread(
            self.store.subscribe, chat.id, at, days, user_id=user.id if user else None
        )
        log.info(
            "daily tip set chat_id=%s user_id=%s update_id=%s at=%s days=%s zone=%s",
            chat.id,
            user.id if user else None,
            update.update_id,
            at.strftime("%H:%M"),
            days,
            sub.zone_name(self.settings.timezone),
        )
        await self._answer(update, self._subscription_text("team_daily_set", sub, lang))

    # -- /timezone ------------------------------------------------------------------------------

    async def timezone(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/timezone` shows the chat's zone; `/timezone WITA|Area/City` changes it."""
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang(update)
        args = context.args or []
        if not args:
            zone_name = await asyncio.to_thread(self._zone_name, chat.id)
            local = self.clock().astimezone(zone(zone_name)).strftime("%H:%M")
            await self._answer(
                update,
                self._t("team_timezone_show", lang, zone=_e(zone_label(zone_name)), local=local),
            )
            return
        if not await self._require_lead(update, context, lang, "timezone"):
            return
        try:
            if len(args) > 1:
                raise ValueError("one zone only")
            zone_name = resolve_timezone(args[0])
        except ValueError:
            given = " ".join(args)[:40]
            await self._answer(update, self._t("team_timezone_usage", lang, given=_e(given)))
            return
        await asyncio.to_thread(self.store.set_chat_timezone, chat.id, zone_name)
        log.info(
            "timezone set chat_id=%s update_id=%s zone=%s", chat.id, update.update_id, zone_name
        )
        local = self.clock().astimezone(zone(zone_name)).strftime("%H:%M")
        text = self._t("team_timezone_set", lang, zone=_e(zone_label(zone_name)), local=local)
        sub = await asyncio.to_thread(self.store.subscription, chat.id)
        if sub is not None:
            text += "\n\n" + self._subscription_text("team_daily_show", sub, lang)
        await self._answer(update, text)

    # -- /tipnow --------------------------------------------------------------------------------

    async def tipnow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The chat's next tip from its rotation, now (it then will not come again this cycle)."""
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self._lang(update)
        if not await self._require_lead(update, context, lang, "tipnow"):
            return
        delivery = await asyncio.to_thread(self.store.take_tip, chat.id, tips.deck(self.kb))
        if delivery is None:
            await self._answer(update, self._t("team_tipnow_empty", lang))
            return
        await asyncio.to_thread(self.store.start_sending, delivery.id)
        try:
            reply = self.services.replies.tip(delivery.tip_key, lang)
            message = await chat.send_message(
                reply.text, parse_mode=ParseMode.HTML, reply_markup=keyboard(reply)
            )
        except BaseException as exc:
            await asyncio.to_thread(self.store.mark_delivery, delivery.id, "unknown", repr(exc))
            raise
        await asyncio.to_thread(self.store.mark_sent, delivery.id, message.message_id)
        log.info(
            "tip sent now chat_id=%s update_id=%s tip=%s",
            chat.id,
            update.update_id,
            delivery.tip_key,
        )

    # -- /stats ---------------------------------------------------------------------------------

    def _stats_block(self, lang: str, stats: dict[int, Stats], *, show_texts: bool) -> list[str]:
        lines = []
        for days in STATS_PERIODS:
            s = stats[days]
            lines.append(
                self._t(
                    "team_stats_period",
                    lang,
                    days=days,
                    asked=s.asked,
                    share=round(s.answered_share * 100),
                    up=s.thumbs_up,
                    down=s.thumbs_down,
                )
            )
        longest = stats[STATS_PERIODS[-1]]
        lines.append(self._t("team_stats_top_stories", lang, days=STATS_PERIODS[-1]))
        if not longest.top_stories:
            lines.append(self._t("team_stats_nothing", lang))
        for anecdote_id, count in longest.top_stories:
            anecdote = self.kb.by_id(anecdote_id)
            title = anecdote.title.get(lang) if anecdote else anecdote_id
            lines.append(self._t("team_stats_item", lang, text=_e(title), count=count))
        if show_texts:
            lines.append(self._t("team_stats_unanswered", lang, days=STATS_PERIODS[-1]))
            if not self.settings.log_questions:
                lines.append(self._t("team_stats_private", lang))
            elif not longest.top_unanswered:
                lines.append(self._t("team_stats_nothing", lang))
            for question in longest.top_unanswered:
                text = " ".join((question.text or "").split())
                if len(text) > STATS_QUESTION_CHARS:
                    text = text[: STATS_QUESTION_CHARS - 1] + "…"
                lines.append(
                    self._t(
                        "team_stats_item", lang, text=f"<i>{_e(text)}</i>", count=question.count
                    )
                )
        return lines

    def stats_text(self, chat_id: int, lang: str, *, bot_wide_lead: bool) -> str:
        """The /stats message. Unanswered questions of *other* chats are shown only to the
        leads listed in TEAM_LEAD_IDS: a group admin sees their own team's questions only."""
        here = {d: self.store.stats(days=d, chat_id=chat_id, top=STATS_TOP) for d in STATS_PERIODS}
        everywhere = {d: self.store.stats(days=d, top=STATS_TOP) for d in STATS_PERIODS}
        sub = self.store.subscription(chat_id)
        daily = (
            self._t("team_stats_daily_off", lang)
            if sub is None
            else f"{self._days_text(sub.days, lang)} {sub.at.strftime('%H:%M')}"
        )
        lines = [
            self._t("team_stats_title", lang),
            "",
            self._t("team_stats_this_chat", lang),
            *self._stats_block(lang, here, show_texts=True),
            self._t("team_stats_daily", lang, state=_e(daily)),
            "",
            self._t("team_stats_all_chats", lang),
            *self._stats_block(lang, everywhere, show_texts=bot_wide_lead),
        ]
        return "\n".join(lines)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        lang = await self._lang(update)
        if not await self._require_lead(update, context, lang, "stats"):
            return
        bot_wide = user is not None and user.id in self.settings.team_lead_ids
        text = await asyncio.to_thread(self.stats_text, chat.id, lang, bot_wide_lead=bot_wide)
        log.info("stats shown chat_id=%s update_id=%s", chat.id, update.update_id)
        await self._answer(update, text)

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
        # limiter (bot/telegram/ratelimit.py); with no limiter, or another, it is marked here.
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
                parse_mode=ParseMode.HTML,
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


def team_commands(services: Services, lang: str) -> list[tuple[str, str]]:
    """(command, description) pairs for setMyCommands in the team-lead scopes."""
    return [(name, services.kb.text(f"team_cmd_{name}", lang)) for name in COMMANDS]


def register(application: Application, services: Services) -> Team:
    """Add the team-lead commands and the daily-tip job to `application`.

    Call it before any catch-all "unknown command" handler of the same group, or that one
    would answer /daily first.
    """
    team = Team(application, services)
    application.add_handlers(team.handlers())
    team.schedule_jobs()
    application.bot_data["kisah_team"] = team
    return team
