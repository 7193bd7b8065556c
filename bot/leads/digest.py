"""The weekly picture for team leads: four weeks of a team in one PNG, and when it is due.

What it shows (four panels at most, large type, in the team's language, readable on a phone):
questions per day split answered / offered / unanswered, the most asked stories, quiz accuracy
per story, and three lines on what changed and what to do. Only counts and story titles are
drawn, never a question's text, so the picture is the same with BOT_LOG_QUESTIONS=false
(counts only).

Why matplotlib (Agg backend): it draws stacked and horizontal bar charts with proper axes and
text wrapping in a few lines, renders headless to PNG in memory, and is the best-kept plotting
library for Python; a hand-drawn image with Pillow would reimplement axes and label layout.
It is imported on first use only, so the bot's start-up and every other command do not pay
for it.

When: `/digest` on demand, and every Monday at the team's daily time (`digest_due`, pure),
through `DigestRunner`, which claims the week's digest before sending it (`digests` table:
at most one per team and week, a crash mid-send leaves it `unknown`, never resent). A team
with nothing asked and no quiz answered in four weeks gets no Monday picture (`empty`).
"""

from __future__ import annotations

import asyncio
import io
import logging
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.chat.markup import shorten_title
from bot.chat.replies import Reply
from bot.chat.request import Env, Outcome, Picture, Request
from bot.chat.uitexts import UiTexts
from bot.leads import quiz, when
from bot.leads.schedule import ChatUnreachable, Clock, DeliveryRejected, slot, zone
from bot.storage.quizrecords import story_of

if TYPE_CHECKING:
    from bot.storage.store import Store
    from bot.storage.tiprecords import Subscription

log = logging.getLogger(__name__)

WEEKS = 4
DAYS = 7 * WEEKS
TOP_STORIES = 5
TITLE_CHARS = 60
WRAP_CHARS = 62
MONDAY = 0

UI_TEXTS = UiTexts(
    "responses/ui/quiz.yaml",
    {
        "digest_title": frozenset({"day"}),
        "digest_panel_questions": frozenset(),
        "digest_answered": frozenset(),
        "digest_offered": frozenset(),
        "digest_unanswered": frozenset(),
        "digest_panel_stories": frozenset(),
        "digest_panel_quiz": frozenset(),
        "digest_panel_next": frozenset(),
        "digest_empty": frozenset(),
        "digest_line_questions": frozenset({"now", "before", "change"}),
        "digest_line_inbox": frozenset({"count"}),
        "digest_line_inbox_none": frozenset(),
        "digest_line_weakest": frozenset({"title", "lesson", "share"}),
        "digest_line_no_quiz": frozenset(),
        "digest_caption": frozenset(
            {"asked", "answered", "offered", "unanswered", "right", "answers"}
        ),
        "digest_sent_admins": frozenset({"count"}),
        "digest_saved": frozenset({"path"}),
    },
    # Drawn on the picture, where no markup is parsed.
    plain=frozenset(
        {
            "digest_title",
            "digest_panel_questions",
            "digest_answered",
            "digest_offered",
            "digest_unanswered",
            "digest_panel_stories",
            "digest_panel_quiz",
            "digest_panel_next",
            "digest_empty",
            "digest_line_questions",
            "digest_line_inbox",
            "digest_line_inbox_none",
            "digest_line_weakest",
            "digest_line_no_quiz",
        }
    ),
)

OUTCOMES = ("answered", "offered", "unanswered")


@dataclass(frozen=True)
class DigestData:
    """What the picture shows, gathered from the store (counts and titles only)."""

    end: date  # the last day shown (the chat's today)
    days: tuple[date, ...]
    per_day: dict[str, tuple[int, ...]]  # outcome -> count per day
    stories: tuple[tuple[str, int], ...]  # (title, questions answered with it)
    accuracy: tuple[tuple[str, int, int], ...]  # (title, right, answers)
    lines: tuple[str, ...]
    totals: dict[str, int] = field(default_factory=dict)


def gather(env: Env, chat_id: int | None, lang: str) -> DigestData:
    """The last four weeks of one chat (None: every chat), by the chat's own days: its
    /timezone, else the bot's, so "today" on the picture is the team's today."""
    store = env.store
    assert store is not None
    default_zone = env.settings.timezone
    tz = zone(default_zone if chat_id is None else when.zone_name(store, chat_id, default_zone))
    now = store.clock().astimezone(tz)
    end = now.date()
    days = tuple(end - timedelta(days=DAYS - 1 - i) for i in range(DAYS))
    since = datetime.combine(days[0], datetime.min.time(), tzinfo=tz)
    offset = now.utcoffset() or timedelta()
    counts = {o: [0] * DAYS for o in OUTCOMES}
    index = {d.isoformat(): i for i, d in enumerate(days)}
    for day, outcome, n in store.daily_questions(chat_id, since, offset):
        if day in index:
            counts[outcome][index[day]] += n
    stats = store.stats(days=DAYS, chat_id=chat_id, top=TOP_STORIES)

    def title(story_id: str) -> str:
        story = env.kb.by_id(story_id)
        return shorten_title(story.title.get(lang) if story else story_id, TITLE_CHARS)

    stories = tuple((title(a), n) for a, n in stats.top_stories)
    per_story: dict[str, list[int]] = {}
    for tally in store.quiz_tallies(chat_id, days=DAYS):
        marks = per_story.setdefault(story_of(tally.quiz_key), [0, 0])
        marks[0] += tally.right
        marks[1] += tally.total
    accuracy = tuple(
        sorted(((title(a), r, t) for a, (r, t) in per_story.items()), key=lambda x: x[1] / x[2])
    )
    totals = {o: sum(counts[o]) for o in OUTCOMES}
    totals["asked"] = sum(totals[o] for o in OUTCOMES)
    totals["answers"] = sum(t for _, _, t in accuracy)
    totals["right"] = sum(r for _, r, _ in accuracy)
    this_week = sum(sum(counts[o][-7:]) for o in OUTCOMES)
    week_before = sum(sum(counts[o][-14:-7]) for o in OUTCOMES)
    change = (
        f"{round(100 * (this_week - week_before) / week_before):+d}%"
        if week_before
        else ("+" + str(this_week) if this_week else "0")
    )
    lines = [
        env.kb.text("digest_line_questions", lang, now=this_week, before=week_before, change=change)
    ]
    waiting = store.inbox(chat_id=chat_id, limit=1)[1]
    lines.append(
        env.kb.text("digest_line_inbox", lang, count=waiting)
        if waiting
        else env.kb.text("digest_line_inbox_none", lang)
    )
    scores = quiz.lesson_scores(env, chat_id, days=DAYS)
    if scores:
        weakest = scores[0]
        lines.append(
            env.kb.text(
                "digest_line_weakest",
                lang,
                title=title(weakest.story_id),
                lesson=quiz.lesson_words(env, weakest.story_id, weakest.lesson, lang),
                share=round(100 * weakest.share),
            )
        )
    else:
        lines.append(env.kb.text("digest_line_no_quiz", lang))
    return DigestData(
        end=end,
        days=days,
        per_day={o: tuple(counts[o]) for o in OUTCOMES},
        stories=stories,
        accuracy=accuracy,
        lines=tuple(lines),
        totals=totals,
    )


def render(env: Env, data: DigestData, lang: str) -> bytes:
    """The picture as PNG bytes: four panels in one column (a phone is held upright), large
    type, 900 x 1600 pixels."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display, no GUI toolkit
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    t = env.kb.text
    figure = Figure(figsize=(9, 16), dpi=100, layout="constrained")
    figure.suptitle(t("digest_title", lang, day=data.end.isoformat()), fontsize=24)
    q_ax, s_ax, a_ax, n_ax = figure.subplots(4, 1, height_ratios=(3, 2.6, 2.6, 1.8))

    x = list(range(len(data.days)))
    bottom = [0] * len(x)
    colours = {"answered": "#2e7d32", "offered": "#f9a825", "unanswered": "#c62828"}
    for outcome in OUTCOMES:
        values = list(data.per_day[outcome])
        label = t(f"digest_{outcome}", lang)
        q_ax.bar(x, values, bottom=bottom, color=colours[outcome], label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    q_ax.set_title(t("digest_panel_questions", lang), fontsize=20, loc="left")
    ticks = x[::7]
    q_ax.set_xticks(ticks, [data.days[i].strftime("%d/%m") for i in ticks], fontsize=15)
    q_ax.set_ylim(bottom=0, top=max(max(bottom), 1) * 1.35)
    q_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    q_ax.tick_params(axis="y", labelsize=15)
    q_ax.legend(fontsize=15, loc="upper left", ncols=3, frameon=False)

    s_ax.set_title(t("digest_panel_stories", lang), fontsize=20, loc="left")
    _barh(s_ax, [name for name, _ in data.stories], [n for _, n in data.stories], t, lang)

    a_ax.set_title(t("digest_panel_quiz", lang), fontsize=20, loc="left")
    shares = [round(100 * r / n) for _, r, n in data.accuracy]
    _barh(a_ax, [name for name, _, _ in data.accuracy], shares, t, lang, limit=100)

    n_ax.set_title(t("digest_panel_next", lang), fontsize=20, loc="left")
    n_ax.axis("off")
    text = "\n".join(
        "• " + textwrap.fill(line, WRAP_CHARS, subsequent_indent="  ") for line in data.lines
    )
    n_ax.text(0.0, 1.0, text, fontsize=17, va="top", ha="left", transform=n_ax.transAxes)

    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _barh(
    ax: Any, names: list[str], values: list[int], t: Callable[..., str], lang: str, limit: int = 0
) -> None:
    """Horizontal bars, first on top, each named above its bar (long titles need the width),
    or "no data yet" in an empty panel. (`ax` is a matplotlib Axes, typed loosely to keep
    matplotlib out of the module's imports.)"""
    if not names:
        ax.axis("off")
        ax.text(0.5, 0.5, t("digest_empty", lang), fontsize=17, ha="center", va="center")
        return
    y = list(range(len(names)))[::-1]
    ax.barh(y, values, height=0.4, color="#1565c0")
    ax.set_yticks([])
    ax.set_ylim(-0.5, len(names) - 0.1)
    top = limit or max(max(values), 1) * 1.15
    ax.set_xlim(0, top)
    ax.tick_params(axis="x", labelsize=15)
    if not limit:  # counts: whole numbers on the axis
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for position, value, name in zip(y, values, names, strict=True):
        ax.text(0, position + 0.25, name, fontsize=15, va="bottom")
        ax.text(value, position, f" {value}", va="center", fontsize=15)


def is_empty(data: DigestData) -> bool:
    """Nothing asked and no quiz answered in four weeks: a picture of zeros is noise."""
    return data.totals["asked"] == 0 and data.totals["answers"] == 0


def picture(env: Env, chat_id: int | None, lang: str, data: DigestData | None = None) -> Picture:
    """The digest of one chat (None: every chat) as a Picture, caption with the counts."""
    data = data or gather(env, chat_id, lang)
    caption = env.kb.text(
        "digest_caption",
        lang,
        asked=data.totals["asked"],
        answered=data.totals["answered"],
        offered=data.totals["offered"],
        unanswered=data.totals["unanswered"],
        right=data.totals["right"],
        answers=data.totals["answers"],
    )
    return Picture(
        png=render(env, data, lang),
        caption=caption,
        team_chat_id=chat_id,
        name=f"kisah-digest-{data.end.isoformat()}.png",
    )


def digest(env: Env, req: Request) -> Outcome:
    """/digest (team lead): this group's picture; in a private chat, that chat's, or every
    chat's for a lead listed in TEAM_LEAD_IDS (as /stats and /inbox do)."""
    chat_id = None if (req.private and req.bot_wide_lead) else req.chat_id
    found = picture(env, chat_id, req.lang)
    log.info(
        "digest drawn chat_id=%s update_id=%s bytes=%d", req.chat_id, req.update_id, len(found.png)
    )
    return Outcome(picture=found)


def sent_note(env: Env, count: int, lang: str) -> Reply:
    return Reply(env.kb.text("digest_sent_admins", lang, count=count))


# -- the weekly schedule --------------------------------------------------------------------------


def digest_due(sub: Subscription, now: datetime, default_tz: str) -> date | None:
    """The Monday (local) whose digest is owed now, or None: on a Monday, once the team's
    daily time has passed, if the subscription existed by then. Like the tips, only today
    can be owed: a Monday missed while the bot was down is not made up on Tuesday."""
    tz = zone(sub.zone_name(default_tz))
    today = now.astimezone(tz).date()
    if today.weekday() != MONDAY:
        return None
    when = slot(sub, today, tz)
    if now < when or when < sub.since:
        return None
    return today


# Sends one team's digest; False when there was nothing to show (nothing sent).
SendDigest = Callable[[int, str | None], Awaitable[bool]]


class DigestRunner:
    """Sends each subscribed team its Monday digest at most once (see the module doc)."""

    def __init__(
        self, store: Store, send: SendDigest, *, default_timezone: str, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.send = send
        self.default_timezone = default_timezone
        self.clock: Clock = clock or store.clock
        self._started = False
        self._busy = asyncio.Lock()
        # (chat, week) already claimed by anyone: not asked of the database again each minute.
        self._done: set[tuple[int, date]] = set()

    async def tick(self) -> list[int]:
        """Send every digest due now; the chats it went to (or was tried for)."""
        if self._busy.locked():
            return []
        async with self._busy:
            if not self._started:
                left = await asyncio.to_thread(self.store.reconcile_digests)
                if left:
                    log.warning("weekly digests unconfirmed after restart, not resent: %d", left)
                self._started = True
            now = self.clock()
            tried = []
            for sub in await asyncio.to_thread(self.store.subscriptions):
                week = digest_due(sub, now, self.default_timezone)
                if week is None or (sub.chat_id, week) in self._done:
                    continue
                claimed = await asyncio.to_thread(self.store.claim_digest, sub.chat_id, week)
                self._done.add((sub.chat_id, week))
                if not claimed:
                    continue
                tried.append(sub.chat_id)
                try:
                    sent = await self.send(sub.chat_id, sub.language)
                except (ChatUnreachable, DeliveryRejected) as exc:
                    await self._finish(sub.chat_id, week, "failed", str(exc))
                    log.warning("weekly digest not sent chat_id=%s: %s", sub.chat_id, exc)
                    continue
                except Exception as exc:
                    await self._finish(sub.chat_id, week, "unknown", repr(exc))
                    log.exception("weekly digest outcome unknown chat_id=%s", sub.chat_id)
                    continue
                if not sent:
                    await self._finish(sub.chat_id, week, "empty")
                    log.info("weekly digest: nothing to show chat_id=%s", sub.chat_id)
                    continue
                await self._finish(sub.chat_id, week, "sent")
                log.info("weekly digest sent chat_id=%s week=%s", sub.chat_id, week)
            return tried

    async def _finish(self, chat_id: int, week: date, state: str, error: str | None = None) -> None:
        await asyncio.to_thread(self.store.finish_digest, chat_id, week, state, error)
