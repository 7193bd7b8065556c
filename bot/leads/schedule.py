"""When a daily tip is due, and the runner that delivers due tips exactly once per local day.

Functional core: parsing `/daily` and `/timezone` arguments, "is this chat due now?" and "when
is it next due?" are pure functions of a subscription and a UTC instant, so tests move a clock
instead of waiting for real minutes. Imperative shell: `DeliveryRunner.tick()`, called about
once a minute, knows nothing about Telegram: it gets an async `send(delivery) -> message_id`
and a few exception types the Telegram layer maps Bot API errors onto. Why each tip goes out at
most once through crashes (the delivery states): docs/operating.md, "How a daily tip goes out".
"""

from __future__ import annotations

import asyncio
import logging
import re
import time as monotonic_time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.storage.tiprecords import Delivery, Subscription

if TYPE_CHECKING:
    from bot.storage.store import Store


log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Day masks: bit 0 is Monday (date.weekday() == 0) ... bit 6 is Sunday.
EVERY_DAY = 0b1111111
WEEKDAYS = 0b0011111
DAY_WORDS: dict[str, int] = {
    "daily": EVERY_DAY,
    "everyday": EVERY_DAY,
    "setiaphari": EVERY_DAY,
    "weekdays": WEEKDAYS,
    "weekday": WEEKDAYS,
    "mon-fri": WEEKDAYS,
    "monfri": WEEKDAYS,
    "senin-jumat": WEEKDAYS,
    "harikerja": WEEKDAYS,
    "hari-kerja": WEEKDAYS,
    "weekend": 0b1100000,
    "weekends": 0b1100000,
    "akhirpekan": 0b1100000,
    "akhir-pekan": 0b1100000,
}
# Single days in both languages and their usual short forms, Monday (bit 0) first: a lead
# names them alone, in a list ("mon,wed,fri", "sen rab jum") or as a range ("sen-kam").
DAY_NAMES: tuple[frozenset[str], ...] = (
    frozenset({"mon", "monday", "sen", "senin"}),
    frozenset({"tue", "tues", "tuesday", "sel", "selasa"}),
    frozenset({"wed", "wednesday", "rab", "rabu"}),
    frozenset({"thu", "thur", "thurs", "thursday", "kam", "kamis"}),
    frozenset({"fri", "friday", "jum", "jumat", "jumaat"}),
    frozenset({"sat", "saturday", "sab", "sabtu"}),
    frozenset({"sun", "sunday", "min", "minggu", "ahad"}),
)
# Indonesia's three zones by their everyday names.
ZONE_ALIASES: dict[str, str] = {
    "wib": "Asia/Jakarta",
    "wita": "Asia/Makassar",
    "wit": "Asia/Jayapura",
}


# -- parsing -----------------------------------------------------------------------------------


def parse_time(text: str) -> time:
    """ "08:30", "8:30" or "08.30" (the Indonesian way) -> time; ValueError otherwise."""
    raw = text.strip().replace(".", ":")
    hours, sep, minutes = raw.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"not a time of day: {text!r}")
    if len(hours) > 2 or not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError(f"not a time of day: {text!r}")
    return time(int(hours), int(minutes))


def parse_days(text: str) -> int:
    """ "weekdays", "weekend", "mon,wed,fri", "sen-kam", "sabtu minggu", ... -> a day mask;
    ValueError otherwise. A range may wrap round the week ("fri-mon")."""
    flat = text.strip().lower().replace("'", "")
    mask = DAY_WORDS.get(flat.replace(" ", ""))
    if mask is not None:
        return mask
    mask = 0
    for part in re.split(r"[,\s]+", flat):
        if not part:
            continue
        first, dash, last = part.partition("-")
        start, end = _day(first, text), _day(last, text) if dash else None
        if end is None:
            mask |= 1 << start
            continue
        for offset in range((end - start) % 7 + 1):
            mask |= 1 << (start + offset) % 7
    if not mask:
        raise ValueError(f"not a set of days: {text!r}")
    return mask


def _day(name: str, text: str) -> int:
    """The weekday number (Monday 0) of one day's name; ValueError naming `text` otherwise."""
    for number, names in enumerate(DAY_NAMES):
        if name in names:
            return number
    raise ValueError(f"not a set of days: {text!r}")


@cache
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def resolve_timezone(text: str) -> str:
    """ "WITA", "asia/makassar", "Asia/Makassar" -> the IANA name; ValueError otherwise."""
    raw = text.strip()
    if raw.lower() in ZONE_ALIASES:
        return ZONE_ALIASES[raw.lower()]
    name = _zones_by_lower_name().get(raw.lower())
    if name is None:
        raise ValueError(f"unknown time zone: {text!r}")
    return name


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {name!r}") from exc


def zone_label(name: str) -> str:
    """ "Asia/Makassar (WITA)" for Indonesian zones, the IANA name otherwise."""
    for alias, full in ZONE_ALIASES.items():
        if full == name:
            return f"{name} ({alias.upper()})"
    return name


# -- the pure schedule --------------------------------------------------------------------------


def runs_on(days: int, day: date) -> bool:
    return bool(days >> day.weekday() & 1)


def daily_kind(mode: str, day: date, days: int = EVERY_DAY) -> str:
    """'tip' or 'quiz' for a chat's daily delivery on local `day` of a schedule on `days`.

    `mix` alternates by the number of the schedule's days since a fixed Monday (0001-01-01,
    ordinal 1), so consecutive deliveries always alternate, whatever the days (Monday,
    Wednesday and Friday too), and a restart cannot make it repeat a kind.

    A group's quizzes walk the chat's stored rotation like its tips (`Store.claim_daily`
    with the quiz keys), so no quiz repeats before all were posted. Both decks share the
    chat's cycle number: in `mix` a new cycle starts when either deck runs out, which can
    bring a tip back a little before every tip was seen.
    """
    if mode == "quiz":
        return "quiz"
    if mode != "mix":
        return "tip"
    weeks, weekday = divmod(day.toordinal() - 1, 7)
    week_days = (days & EVERY_DAY).bit_count() or 7
    earlier = (days & ((1 << weekday) - 1)).bit_count()
    return "quiz" if (weeks * week_days + earlier) % 2 == 0 else "tip"


def slot(sub: Subscription, day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant of `sub`'s tip on local `day`."""
    return datetime.combine(day, sub.at, tzinfo=tz).astimezone(UTC)


def due_date(sub: Subscription, now: datetime, default_tz: str) -> date | None:
    """The local date whose tip is owed right now, or None.

    A tip is owed on a local day when that day is one of the subscription's days, its time has
    passed, it was not yet claimed (`last_date`), and the subscription already existed at that
    time. Only *today* (in the chat's zone) can be owed: a tip missed while the bot was down is
    sent when it comes back the same local day, and silently dropped after local midnight.
    """
    tz = zone(sub.zone_name(default_tz))
    local = now.astimezone(tz)
    today = local.date()
    if not runs_on(sub.days, today):
        return None
    if sub.last_date is not None and sub.last_date >= today:
        return None
    when = slot(sub, today, tz)
    if now < when or when < sub.since:
        return None
    return today


def next_due(sub: Subscription, now: datetime, default_tz: str) -> datetime | None:
    """The UTC instant of the next tip not yet claimed (in the past if owed right now)."""
    owed = due_date(sub, now, default_tz)
    tz = zone(sub.zone_name(default_tz))
    if owed is not None:
        return slot(sub, owed, tz)
    today = now.astimezone(tz).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if not runs_on(sub.days, day) or (sub.last_date is not None and day <= sub.last_date):
            continue
        when = slot(sub, day, tz)
        if when >= now and when >= sub.since:
            return when
    return None


def local_today(now: datetime, zone_name: str) -> date:
    return now.astimezone(zone(zone_name)).date()


# -- the delivery runner ------------------------------------------------------------------------


class DeliveryRetryAfter(Exception):  # noqa: N818 - mirrors telegram.error.RetryAfter
    """Telegram said 429: nothing was sent; wait `seconds` before sending anything."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class ChatUnreachable(Exception):  # noqa: N818 - a fact about the chat, not a failure of ours
    """The bot was blocked, kicked or the chat is gone: nothing was sent, stop trying."""


class ChatMoved(Exception):  # noqa: N818
    """The group became a supergroup with a new id: nothing was sent; follow it there."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class DeliveryRejected(Exception):  # noqa: N818
    """Telegram refused this message (400): nothing was sent, retrying will not help."""


class DeliveryNotSent(Exception):  # noqa: N818
    """The request certainly did not reach Telegram (e.g. connection refused): retry later."""


Send = Callable[[Delivery], Awaitable[int]]


class Pacer:
    """Spaces sends evenly at `rate` per second, across all workers, with no bursts.

    Telegram counts about 30 messages per second per bot; a token bucket would allow a burst
    of its whole capacity at the start of a broadcast on top of the steady rate, which is
    exactly what provokes 429s, so slots are handed out one interval apart instead. `pause`
    pushes every future slot past a 429's retry_after.
    """

    def __init__(self, rate: float, now: Callable[[], float] = monotonic_time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._now = now
        self._next = 0.0
        self._epoch = 0  # bumped by pause(): slots granted before a 429 are void
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        while True:
            async with self._lock:
                current = self._now()
                slot_at = max(current, self._next)
                self._next = slot_at + self.interval
                epoch = self._epoch
            if slot_at > current:
                await asyncio.sleep(slot_at - current)
            if epoch == self._epoch:
                return

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, self._now() + seconds)
        self._epoch += 1


@dataclass
class TickResult:
    """What one tick did; also what the benchmark and the tests count."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0  # 429 answers
    unsubscribed: list[int] = field(default_factory=list)
    failed: int = 0
    unknown: int = 0
    expired: int = 0
    skipped_busy: bool = False


class DeliveryRunner:
    """Claims due daily tips and sends them, paced, through an injected `send`."""

    def __init__(
        self,
        store: Store,
        deck: Callable[[], Sequence[str]],
        send: Send,
        *,
        default_timezone: str,
        clock: Clock | None = None,
        rate: float = 29.0,
        workers: int = 16,
        max_attempts: int = 5,
        send_marks_handover: bool = False,
        quiz_deck: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        """`send_marks_handover`: `send` calls `handed_over` itself when its request leaves
        for Telegram (after any rate limiter), so a row waiting to go out stays `queued`.
        `quiz_deck`: the quiz keys, for chats whose daily mode is `quiz` or `mix`
        (`daily_kind`); a quiz is then claimed exactly like a tip, in the
        same delivery log, with the same guarantees, and `send` tells the two apart by key."""
        self.store = store
        self.deck = deck
        self.send = send
        self.default_timezone = default_timezone
        self.clock: Clock = clock or store.clock
        self.pacer = Pacer(rate)
        self.workers = workers
        self.max_attempts = max_attempts
        self.send_marks_handover = send_marks_handover
        self.quiz_deck = quiz_deck
        self._busy = asyncio.Lock()
        self._started = False

    async def handed_over(self, delivery: Delivery) -> None:
        """queued -> sending, committed as the delivery's request leaves for Telegram.

        From here on a crash leaves the tip `unknown` (never resent); before it, `queued`,
        which a restart sends. Called again for each retry of the same request.
        """
        await asyncio.to_thread(self.store.hand_over, delivery.id)

    async def not_handed_over(self, delivery: Delivery) -> None:
        """sending -> queued: Telegram answered 429 (nothing sent) and the request waits in
        the rate limiter for another try; a crash meanwhile must not cost the tip."""
        await asyncio.to_thread(self.store.take_back, delivery.id)

    async def startup(self) -> list[Delivery]:
        """Settle rows a crash left behind: `sending` becomes `unknown` (at-most-once: see the
        module docstring), `queued` becomes `pending` again (it never left the process)."""
        unknown = await asyncio.to_thread(self.store.reconcile_unconfirmed)
        for delivery in unknown:
            log.warning(
                "delivery unconfirmed after restart, not resent chat_id=%s delivery=%s tip=%s",
                delivery.chat_id,
                delivery.id,
                delivery.tip_key,
            )
        self._started = True
        return unknown

    async def tick(self) -> TickResult:
        """Claim every tip due now, then send every pending one; one tick at a time."""
        if self._busy.locked():
            # The previous broadcast is still going (a very large one); it picks up anything
            # claimed meanwhile on its next tick, so skipping cannot lose a tip.
            return TickResult(skipped_busy=True)
        async with self._busy:
            if not self._started:
                await self.startup()
            result = TickResult()
            now = self.clock()
            subscriptions = await asyncio.to_thread(self.store.subscriptions)
            keys = list(self.deck())
            quiz_keys = list(self.quiz_deck()) if self.quiz_deck is not None else []
            modes = await asyncio.to_thread(self.store.daily_modes) if quiz_keys else {}
            for sub in subscriptions:
                day = due_date(sub, now, self.default_timezone)
                if day is None:
                    continue
                kind = daily_kind(modes.get(sub.chat_id, "tips"), day, sub.days)
                chosen = quiz_keys if kind == "quiz" and quiz_keys else keys
                claimed = await asyncio.to_thread(self.store.claim_daily, sub.chat_id, day, chosen)
                if claimed is not None:
                    result.claimed += 1
            pending = await asyncio.to_thread(self.store.pending_deliveries)
            queue: asyncio.Queue[Delivery] = asyncio.Queue()
            for delivery in pending:
                zone_name = delivery.timezone or self.default_timezone
                if delivery.local_date != local_today(now, zone_name):
                    await asyncio.to_thread(self.store.mark_delivery, delivery.id, "expired")
                    log.info(
                        "delivery expired (local day over) chat_id=%s date=%s",
                        delivery.chat_id,
                        delivery.local_date,
                    )
                    result.expired += 1
                    continue
                queue.put_nowait(delivery)
            if not queue.empty():
                started = monotonic_time.monotonic()
                count = queue.qsize()
                tasks = [
                    asyncio.create_task(self._worker(queue, result))
                    for _ in range(min(self.workers, count))
                ]
                await asyncio.gather(*tasks)
                log.info(
                    "broadcast done due=%d sent=%d retried=%d unsubscribed=%d failed=%d "
                    "unknown=%d seconds=%.1f",
                    count,
                    result.sent,
                    result.retried,
                    len(result.unsubscribed),
                    result.failed,
                    result.unknown,
                    monotonic_time.monotonic() - started,
                )
            return result

    async def _worker(self, queue: asyncio.Queue[Delivery], result: TickResult) -> None:
        attempts: dict[int, int] = {}
        while not queue.empty():
            delivery = queue.get_nowait()
            await self.pacer.acquire()
            store = self.store
            take = store.queue_delivery if self.send_marks_handover else store.start_sending
            if not await asyncio.to_thread(take, delivery.id):
                continue  # cancelled (unsubscribed meanwhile) or already taken
            try:
                message_id = await self.send(delivery)
            except DeliveryRetryAfter as exc:
                await asyncio.to_thread(self.store.mark_delivery, delivery.id, "pending")
                self.pacer.pause(exc.seconds)
                result.retried += 1
                attempts[delivery.id] = attempts.get(delivery.id, 0) + 1
                log.warning(
                    "429 from Telegram chat_id=%s retry_after=%s", delivery.chat_id, exc.seconds
                )
                if attempts[delivery.id] < self.max_attempts:
                    queue.put_nowait(delivery)
                continue  # else it stays pending for the next tick
            except DeliveryNotSent as exc:
                await asyncio.to_thread(self.store.mark_delivery, delivery.id, "pending")
                log.warning(
                    "delivery not sent, retry next tick chat_id=%s: %s", delivery.chat_id, exc
                )
                continue
            except ChatUnreachable as exc:
                await asyncio.to_thread(self.store.mark_delivery, delivery.id, "failed", str(exc))
                await asyncio.to_thread(self.store.unsubscribe, delivery.chat_id)
                result.unsubscribed.append(delivery.chat_id)
                log.warning("chat unreachable, unsubscribed chat_id=%s: %s", delivery.chat_id, exc)
                continue
            except ChatMoved as exc:
                await asyncio.to_thread(self.store.mark_delivery, delivery.id, "failed", str(exc))
                await asyncio.to_thread(self.store.move_chat, delivery.chat_id, exc.new_chat_id)
                result.failed += 1
                log.warning(
                    "chat migrated, subscription moved chat_id=%s new_chat_id=%s",
                    delivery.chat_id,
                    exc.new_chat_id,
                )
                continue  # the next tick claims today's tip for the new id
            except DeliveryRejected as exc:
                await asyncio.to_thread(self.store.mark_delivery, delivery.id, "failed", str(exc))
                result.failed += 1
                log.error("delivery rejected chat_id=%s: %s", delivery.chat_id, exc)
                continue
            except Exception as exc:
                # Timed out or anything unforeseen: it may have been sent. At-most-once.
                await asyncio.to_thread(self.store.mark_delivery, delivery.id, "unknown", repr(exc))
                result.unknown += 1
                log.exception("delivery outcome unknown, not resent chat_id=%s", delivery.chat_id)
                continue
            await asyncio.to_thread(self.store.mark_sent, delivery.id, message_id)
            result.sent += 1
            log.info(
                "tip delivered chat_id=%s tip=%s message_id=%s",
                delivery.chat_id,
                delivery.tip_key,
                message_id,
            )
