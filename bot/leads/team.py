"""What the team-lead commands say and decide: /daily, /timezone, /tipnow, /stats.

Plain Python, so that the Telegram bot and the terminal chat give the same answers: parsing
and scheduling live in `bot.leads.schedule`, the rotation in `bot.leads.tips`, the state in
`bot.storage.store`;
this module turns a command into store calls and a reply. Who may run a command is data in
the command table (`bot.chat.commands`), decided in `bot.chat.access` from the facts the
transport finds out (getChatMember, for a group) before a builder here is called.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.chat.access import only_leads  # noqa: F401 - where the refusal used to live
from bot.chat.markup import escape
from bot.chat.replies import Reply
from bot.chat.request import Env, Outcome, Request
from bot.chat.uitexts import UiTexts
from bot.leads import quiz, tips, when
from bot.leads.inbox import stats_button
from bot.leads.schedule import (
    EVERY_DAY,
    Subscription,
    next_due,
    parse_days,
    parse_time,
    resolve_timezone,
    zone,
    zone_label,
)
from bot.storage.quizrecords import MODES

if TYPE_CHECKING:
    from datetime import datetime

    from bot.storage.store import Stats, Store

log = logging.getLogger(__name__)

STATS_PERIODS = (7, 30)
STATS_TOP = 5
STATS_QUESTION_CHARS = 80
# The longest part of a wrong argument echoed back in a usage hint.
ECHO_CHARS = 40
OFF_WORDS = frozenset({"off", "stop", "mati", "berhenti", "stop."})

_SUBSCRIPTION = frozenset({"days", "time", "zone", "next", "what", "next_what"})
_CLOCK = frozenset({"zone", "local"})
# The texts this module reads from responses/ui/team.yaml, with their placeholders; checked
# at start and by `python -m bot check`. Plain ones are escaped before they go into a template,
# so they must not carry markup themselves. (The menu descriptions, team_cmd_*, are declared
# with the command table.)
UI_TEXTS = UiTexts(
    "responses/ui/team.yaml",
    {
        "team_only_leads": frozenset(),
        "team_help": frozenset(),
        "team_help_short": frozenset({"commands"}),
        "team_days_every": frozenset(),
        "team_days_weekdays": frozenset(),
        "team_days_some": frozenset({"days"}),
        "team_daily_set": _SUBSCRIPTION,
        "team_daily_show": _SUBSCRIPTION,
        "team_daily_none": frozenset({"zone"}),
        **{f"team_daily_what_{mode}": frozenset() for mode in MODES},
        **{f"team_daily_next_{mode}": frozenset() for mode in MODES},
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
        "team_stats_period_none": frozenset({"days"}),
        "team_stats_top_stories": frozenset({"days"}),
        "team_stats_unanswered": frozenset({"days"}),
        "team_stats_item": frozenset({"text", "count"}),
        "team_stats_nothing": frozenset(),
        "team_stats_private": frozenset(),
        "team_stats_daily": frozenset({"state"}),
        "team_stats_daily_off": frozenset(),
    },
    plain=frozenset(
        {
            "team_days_every",
            "team_days_weekdays",
            "team_days_some",
            "team_next_none",
            "team_next_at",
            "team_weekday_names",
            "team_month_names",
            "team_stats_daily_off",
            *(f"team_daily_{kind}_{mode}" for kind in ("what", "next") for mode in MODES),
        }
    ),
    words={"team_weekday_names": 7, "team_month_names": 12},
)


def _looks_like_time(word: str) -> bool:
    """ "08:30", "8.30", "25:00" (a wrong time is still a time, for the usage reply)."""
    return any(ch.isdigit() for ch in word)


class TeamReplies:
    """The team-lead replies of one environment; one per command, holds no state of its own."""

    def __init__(self, env: Env) -> None:
        if env.store is None:
            raise ValueError("team commands need a store")
        self.env = env
        self.store: Store = env.store
        self.kb = env.kb
        self.default_zone = env.settings.timezone

    def _t(self, key: str, lang: str, **values: object) -> str:
        return self.kb.text(key, lang, **values)

    def _reply(self, text: str) -> Outcome:
        return Outcome(replies=(Reply(text),))

    # -- formatting ---------------------------------------------------------------------------

    def zone_name(self, chat_id: int) -> str:
        return when.zone_name(self.store, chat_id, self.default_zone)

    def days_text(self, days: int, lang: str) -> str:
        return when.days_text(self.kb, days, lang)

    def when_text(self, moment: datetime | None, zone_name: str, lang: str) -> str:
        return when.when_text(self.kb, moment, zone_name, lang)

    def subscription_text(self, key: str, sub: Subscription, lang: str) -> str:
        """The chat's schedule, naming what it sends (a tip, a quiz, or either in turn)."""
        zone_name = sub.zone_name(self.default_zone)
        moment = next_due(sub, self.store.clock(), self.default_zone)
        mode = self.store.daily_mode(sub.chat_id)
        if mode not in MODES:
            mode = "tips"
        return self._t(
            key,
            lang,
            days=escape(self.days_text(sub.days, lang)),
            time=sub.at.strftime("%H:%M"),
            zone=escape(zone_label(zone_name)),
            next=escape(self.when_text(moment, zone_name, lang)),
            what=escape(self._t(f"team_daily_what_{mode}", lang)),
            next_what=escape(self._t(f"team_daily_next_{mode}", lang)),
        )

    def _local_time(self, zone_name: str) -> str:
        return self.store.clock().astimezone(zone(zone_name)).strftime("%H:%M")

    # -- /daily -------------------------------------------------------------------------------

    def daily(self, req: Request) -> Outcome:
        """`/daily` shows, `/daily HH:MM [days]` sets or changes (the days before or after
        the time; a time alone keeps the days already set, days alone keep the time),
        `/daily off` stops."""
        args, lang = req.args, req.lang
        if not args:
            sub = self.store.subscription(req.chat_id)
            if sub is None:
                zone_label_text = escape(zone_label(self.zone_name(req.chat_id)))
                return self._reply(self._t("team_daily_none", lang, zone=zone_label_text))
            return self._reply(self._with_mode(req.chat_id, "team_daily_show", sub, lang))
        if len(args) == 1 and args[0].lower() in OFF_WORDS:
            stopped = self.store.unsubscribe(req.chat_id)
            log.info(
                "daily tip stopped chat_id=%s user_id=%s update_id=%s had=%s",
                req.chat_id,
                req.user_id,
                req.update_id,
                stopped,
            )
            return self._reply(
                self._t("team_daily_off" if stopped else "team_daily_off_none", lang)
            )
        written = args
        args, mode = quiz.mode_of(args)  # "/daily 08:00 mon-fri quiz": tips, quiz or mix
        current = self.store.subscription(req.chat_id)
        if not args and mode is not None and current is not None:  # "/daily quiz": what only
            self.store.set_daily_mode(req.chat_id, mode)
            log.info(
                "daily mode set chat_id=%s update_id=%s mode=%s", req.chat_id, req.update_id, mode
            )
            return self._reply(self._with_mode(req.chat_id, "team_daily_set", current, lang))
        try:
            times = [n for n, word in enumerate(args) if _looks_like_time(word)]
            if not args or len(times) > 1 or (not times and current is None):
                raise ValueError("a time, and the days if any")
            if not times:  # "/daily sen,rab,jum": the days alone change, the time stays
                assert current is not None
                at, days = current.at, parse_days(" ".join(args))
            else:  # the time, before or after the days ("/daily sat,sun 09:00")
                at = parse_time(args[times[0]])
                rest = [word for n, word in enumerate(args) if n != times[0]]
                if rest:  # "mon-fri", "sen,rab,jum", "sabtu minggu"
                    days = parse_days(" ".join(rest))
                else:  # a new time alone keeps the days, as it keeps what is sent
                    days = current.days if current is not None else EVERY_DAY
        except ValueError:
            given = escape(" ".join(written)[:ECHO_CHARS])  # all of it: "/daily quiz" too
            return self._reply(self._t("team_daily_usage", lang, given=given))
        sub = self.store.subscribe(req.chat_id, at, days, user_id=req.user_id)
        if mode is not None:
            self.store.set_daily_mode(req.chat_id, mode)
        log.info(
            "daily tip set chat_id=%s user_id=%s update_id=%s at=%s days=%s zone=%s mode=%s",
            req.chat_id,
            req.user_id,
            req.update_id,
            at.strftime("%H:%M"),
            days,
            sub.zone_name(self.default_zone),
            mode or self.store.daily_mode(req.chat_id),
        )
        return self._reply(self._with_mode(req.chat_id, "team_daily_set", sub, lang))

    def _with_mode(self, chat_id: int, key: str, sub: Subscription, lang: str) -> str:
        """The schedule, then what it delivers (tips, quizzes, or both in turn)."""
        mode = self.store.daily_mode(chat_id)
        return (
            self.subscription_text(key, sub, lang) + "\n\n" + quiz.mode_line(self.env, mode, lang)
        )

    # -- /timezone ----------------------------------------------------------------------------

    def timezone(self, req: Request) -> Outcome:
        """`/timezone` shows the chat's zone; `/timezone WITA|Area/City` changes it."""
        args, lang = req.args, req.lang
        if not args:
            zone_name = self.zone_name(req.chat_id)
            label, local = escape(zone_label(zone_name)), self._local_time(zone_name)
            return self._reply(self._t("team_timezone_show", lang, zone=label, local=local))
        try:
            if len(args) > 1:
                raise ValueError("one zone only")
            zone_name = resolve_timezone(args[0])
        except ValueError:
            given = escape(" ".join(args)[:ECHO_CHARS])
            return self._reply(self._t("team_timezone_usage", lang, given=given))
        self.store.set_chat_timezone(req.chat_id, zone_name)
        log.info(
            "timezone set chat_id=%s update_id=%s zone=%s", req.chat_id, req.update_id, zone_name
        )
        label, local = escape(zone_label(zone_name)), self._local_time(zone_name)
        text = self._t("team_timezone_set", lang, zone=label, local=local)
        sub = self.store.subscription(req.chat_id)
        if sub is not None:
            text += "\n\n" + self.subscription_text("team_daily_show", sub, lang)
        return self._reply(text)

    # -- /tipnow ------------------------------------------------------------------------------

    def tipnow(self, req: Request) -> Outcome:
        """The chat's next tip from its rotation, now (it then will not come again this cycle).

        The delivery is `sending` when this returns: the transport marks it sent with the
        message's id, or `unknown` if sending failed.
        """
        delivery = self.store.take_tip(req.chat_id, tips.deck(self.kb))
        if delivery is None:
            return self._reply(self._t("team_tipnow_empty", req.lang))
        self.store.start_sending(delivery.id)
        try:
            reply = self.env.replies.tip(delivery.tip_key, req.lang)
        except BaseException as exc:
            self.store.mark_delivery(delivery.id, "unknown", repr(exc))
            raise
        log.info(
            "tip taken now chat_id=%s update_id=%s tip=%s",
            req.chat_id,
            req.update_id,
            delivery.tip_key,
        )
        return Outcome(replies=(reply,), delivery_id=delivery.id)

    # -- /stats -------------------------------------------------------------------------------

    def _stats_block(self, lang: str, stats: dict[int, Stats], *, show_texts: bool) -> list[str]:
        lines = []
        for days in STATS_PERIODS:
            s = stats[days]
            if not s.asked and not s.thumbs_up and not s.thumbs_down:  # no "0% answered"
                lines.append(self._t("team_stats_period_none", lang, days=days))
                continue
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
        for story_id, count in longest.top_stories:
            story = self.kb.by_id(story_id)
            title = story.title.get(lang) if story else story_id
            lines.append(self._t("team_stats_item", lang, text=escape(title), count=count))
        if show_texts:
            lines.append(self._t("team_stats_unanswered", lang, days=STATS_PERIODS[-1]))
            if not self.env.settings.log_questions:
                lines.append(self._t("team_stats_private", lang))
            elif not longest.top_unanswered:
                lines.append(self._t("team_stats_nothing", lang))
            for question in longest.top_unanswered:
                text = " ".join((question.text or "").split())
                if len(text) > STATS_QUESTION_CHARS:
                    text = text[: STATS_QUESTION_CHARS - 1] + "…"
                lines.append(
                    self._t(
                        "team_stats_item", lang, text=f"<i>{escape(text)}</i>", count=question.count
                    )
                )
        return lines

    def stats_text(self, chat_id: int, lang: str, *, bot_wide_lead: bool) -> str:
        """The /stats message. Unanswered questions of *other* chats are shown only to the
        leads listed in TEAM_LEAD_IDS in their private chat (`bot_wide_lead`): in a group
        every member reads the reply, so there it shows that group's questions only."""
        here = {d: self.store.stats(days=d, chat_id=chat_id, top=STATS_TOP) for d in STATS_PERIODS}
        everywhere = {d: self.store.stats(days=d, top=STATS_TOP) for d in STATS_PERIODS}
        sub = self.store.subscription(chat_id)
        if sub is None:
            daily = self._t("team_stats_daily_off", lang)
        else:  # what is sent, on which days, when, in which zone
            mode = self.env.kb.text(f"quiz_mode_{self.store.daily_mode(chat_id)}", lang)
            daily = (
                f"{mode}, {self.days_text(sub.days, lang)} {sub.at.strftime('%H:%M')}, "
                f"{zone_label(self.zone_name(chat_id))}"
            )
        lines = [
            self._t("team_stats_title", lang),
            "",
            self._t("team_stats_this_chat", lang),
            *self._stats_block(lang, here, show_texts=True),
            self._t("team_stats_daily", lang, state=escape(daily)),
            "",
            # Answers are the chat's own (a group's leads see their group's, never others').
            *quiz.stats_lines(self.env, chat_id, lang),
        ]
        # With one chat (the terminal's, a bot in one group) the second block would repeat it.
        if any(_figures(everywhere[d]) != _figures(here[d]) for d in STATS_PERIODS):
            lines += [
                "",
                self._t("team_stats_all_chats", lang),
                *self._stats_block(lang, everywhere, show_texts=bot_wide_lead),
            ]
        return "\n".join(lines)

    def stats(self, req: Request) -> Outcome:
        """The figures, with the inbox a tap away: what went unanswered can be taught."""
        text = self.stats_text(
            req.chat_id, req.lang, bot_wide_lead=req.bot_wide_lead and req.private
        )
        log.info("stats shown chat_id=%s update_id=%s", req.chat_id, req.update_id)
        return Outcome(replies=(Reply(text, ((stats_button(self.env, req.lang),),)),))


def _figures(stats: Stats) -> tuple[object, ...]:
    """What a statistics block shows (not when its period started, which differs by the
    moments between two reads)."""
    return (
        stats.asked,
        stats.answered,
        stats.top_stories,
        stats.top_unanswered,
        stats.thumbs_up,
        stats.thumbs_down,
    )


# The builders the command table names: (env, request) -> outcome, like every other command.


def daily(env: Env, req: Request) -> Outcome:
    return TeamReplies(env).daily(req)


def timezone(env: Env, req: Request) -> Outcome:
    return TeamReplies(env).timezone(req)


def tipnow(env: Env, req: Request) -> Outcome:
    return TeamReplies(env).tipnow(req)


def stats(env: Env, req: Request) -> Outcome:
    return TeamReplies(env).stats(req)
