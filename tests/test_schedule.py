"""Schedule: due exactly once per local day, weekdays, zones, missed-while-down, crash recovery.

The clock is a plain object the test moves; nothing here waits for real minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.leads.schedule import (
    EVERY_DAY,
    WEEKDAYS,
    ChatUnreachable,
    Delivery,
    DeliveryRejected,
    DeliveryRetryAfter,
    DeliveryRunner,
    Pacer,
    Subscription,
    due_date,
    next_due,
    parse_days,
    parse_time,
    resolve_timezone,
    zone_label,
)
from bot.storage.store import DB_FILENAME, Store

JAKARTA = "Asia/Jakarta"  # UTC+7, no DST
DECK = [f"s{s}:{i}" for s in range(3) for i in range(3)]


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, text: str, zone_hours: int = 7) -> None:
        """Move to a local wall-clock time "YYYY-MM-DD HH:MM" in a UTC+zone_hours zone."""
        local = datetime.strptime(text, "%Y-%m-%d %H:%M")
        self.now = (local - timedelta(hours=zone_hours)).replace(tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def sub(at: str = "08:30", days: int = EVERY_DAY, **kw: object) -> Subscription:
    values: dict[str, object] = {"since": utc("2026-11-01 00:00"), "chat_id": 1}
    values.update(kw)
    return Subscription(at=parse_time(at), days=days, **values)  # type: ignore[arg-type]


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:30", time(8, 30)), ("8:30", time(8, 30)), ("08.30", time(8, 30)), ("0:00", time(0))],
)
def test_parse_time_accepts_common_forms(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["25:99", "24:00", "08:60", "8", "08:3", "aa:bb", "", "-1:30"])
def test_parse_time_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_parse_days_and_zones() -> None:
    assert parse_days("weekdays") == parse_days("mon-fri") == parse_days("Senin-Jumat") == WEEKDAYS
    assert parse_days("daily") == EVERY_DAY
    with pytest.raises(ValueError):
        parse_days("sometimes")


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon,wed,fri", "0, 2, 4"),
        ("sen rab jum", "0, 2, 4"),
        ("Senin, Rabu, Jum'at", "0, 2, 4"),
        ("sen-jum", "0, 1, 2, 3, 4"),
        ("weekend", "5, 6"),
        ("sabtu minggu", "5, 6"),
        ("akhir pekan", "5, 6"),
        ("fri-mon", "0, 4, 5, 6"),  # a range wraps round the week
        ("tue", "1"),
    ],
)
def test_parse_days_reads_named_days_lists_and_ranges(text: str, days: str) -> None:
    mask = parse_days(text)
    assert ", ".join(str(d) for d in range(7) if mask >> d & 1) == days


@pytest.mark.parametrize("text", ["mon,blah", "sen-", "-jum", ",", "mon-fri-sat", "senin jam 8"])
def test_parse_days_refuses_what_is_not_days(text: str) -> None:
    with pytest.raises(ValueError):
        parse_days(text)


def test_zones_by_name_and_alias() -> None:
    assert resolve_timezone("WITA") == "Asia/Makassar"
    assert resolve_timezone("wib") == JAKARTA
    assert resolve_timezone("WIT") == "Asia/Jayapura"
    assert resolve_timezone("asia/makassar") == "Asia/Makassar"
    assert resolve_timezone("Europe/London") == "Europe/London"
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ValueError):
            resolve_timezone(bad)
    assert zone_label("Asia/Makassar") == "Asia/Makassar (WITA)"


# -- due --------------------------------------------------------------------------------------


def test_due_from_its_local_time_until_local_midnight() -> None:
    s = sub("08:30")
    assert due_date(s, utc("2026-11-23 01:29"), JAKARTA) is None  # 08:29 WIB
    assert due_date(s, utc("2026-11-23 01:30"), JAKARTA) == date(2026, 11, 23)
    # Missed while down: 16:59 WIB the same day is still owed ...
    assert due_date(s, utc("2026-11-23 09:59"), JAKARTA) == date(2026, 11, 23)
    # ... but not after local midnight; the new day's slot is 08:30 again.
    assert due_date(s, utc("2026-11-23 17:00"), JAKARTA) is None


def test_never_twice_for_the_same_local_day() -> None:
    s = sub("08:30", last_date=date(2026, 11, 23))
    assert due_date(s, utc("2026-11-23 05:00"), JAKARTA) is None
    assert due_date(s, utc("2026-11-24 01:30"), JAKARTA) == date(2026, 11, 24)


def test_weekdays_skip_the_weekend() -> None:
    s = sub("08:30", WEEKDAYS)
    friday, saturday, sunday, monday = (utc(f"2026-11-{d} 02:00") for d in (27, 28, 29, 30))
    assert due_date(s, friday, JAKARTA) == date(2026, 11, 27)
    assert due_date(s, saturday, JAKARTA) is None
    assert due_date(s, sunday, JAKARTA) is None
    assert due_date(s, monday, JAKARTA) == date(2026, 11, 30)
    after_friday = sub("08:30", WEEKDAYS, last_date=date(2026, 11, 27))
    assert next_due(after_friday, saturday, JAKARTA) == utc("2026-11-30 01:30")


def test_the_chat_zone_decides_the_day_and_the_hour() -> None:
    # 08:30 on the 23rd in Jayapura (UTC+9) is 23:30 UTC on the 22nd.
    s = sub("08:30", timezone="Asia/Jayapura")
    assert due_date(s, utc("2026-11-22 23:29"), JAKARTA) is None
    assert due_date(s, utc("2026-11-22 23:30"), JAKARTA) == date(2026, 11, 23)
    # The same instant is 06:30 in Jakarta: not yet due there.
    assert due_date(sub("08:30"), utc("2026-11-22 23:30"), JAKARTA) is None
    # A zone west of UTC: 08:30 in New York (UTC-5 in November) is 13:30 UTC.
    ny = sub("08:30", timezone="America/New_York")
    assert due_date(ny, utc("2026-11-23 13:29"), JAKARTA) is None
    assert due_date(ny, utc("2026-11-23 13:30"), JAKARTA) == date(2026, 11, 23)


def test_a_slot_before_the_subscription_is_not_owed() -> None:
    # Subscribed at 10:00 WIB for 08:30: the first tip is tomorrow, not right away.
    s = sub("08:30", since=utc("2026-11-23 03:00"))
    assert due_date(s, utc("2026-11-23 03:01"), JAKARTA) is None
    assert next_due(s, utc("2026-11-23 03:01"), JAKARTA) == utc("2026-11-24 01:30")
    # Subscribed at 08:00 WIB for 08:30: today.
    s = sub("08:30", since=utc("2026-11-23 01:00"))
    assert next_due(s, utc("2026-11-23 01:00"), JAKARTA) == utc("2026-11-23 01:30")


def test_next_due_in_the_past_means_owed_now() -> None:
    s = sub("08:30")
    assert next_due(s, utc("2026-11-23 05:00"), JAKARTA) == utc("2026-11-23 01:30")


# -- the runner ---------------------------------------------------------------------------------


class FakeTelegram:
    """Records sends; can refuse chats, answer 429 or die (simulating kill -9) on a given send."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str]] = []
        self.gone: set[int] = set()
        self.rejected: set[int] = set()
        self.flood_once: set[int] = set()
        self.crash_after: int | None = None  # raise Crash after receiving this many messages
        self.crash_before: int | None = None  # raise Crash instead of receiving message n

    async def send(self, delivery: Delivery) -> int:
        await asyncio.sleep(0)
        if delivery.chat_id in self.gone:
            raise ChatUnreachable("Forbidden: bot was blocked by the user")
        if delivery.chat_id in self.rejected:
            raise DeliveryRejected("Bad Request: can't parse entities")
        if delivery.chat_id in self.flood_once:
            self.flood_once.discard(delivery.chat_id)
            raise DeliveryRetryAfter(0.01)
        if self.crash_before is not None and len(self.received) + 1 >= self.crash_before:
            raise Crash("killed before the request left")
        self.received.append((delivery.chat_id, delivery.tip_key))
        if self.crash_after is not None and len(self.received) >= self.crash_after:
            raise Crash("killed after Telegram got the message, before the commit")
        return len(self.received)

    def per_chat(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for chat_id, _ in self.received:
            counts[chat_id] = counts.get(chat_id, 0) + 1
        return counts


class Crash(BaseException):
    """Stands in for kill -9: not an Exception, so nothing in the runner handles it."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc("2026-11-20 00:00"))


def runner_for(
    store: Store, telegram: FakeTelegram, clock: FakeClock, **kw: object
) -> DeliveryRunner:
    return DeliveryRunner(
        store,
        lambda: DECK,
        telegram.send,
        default_timezone=JAKARTA,
        clock=clock,
        rate=kw.pop("rate", 1000.0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def subscribe_all(store: Store, chats: range, at: str = "08:30", days: int = EVERY_DAY) -> None:
    for chat_id in chats:
        store.subscribe(chat_id, parse_time(at), days)


async def test_each_chat_gets_one_tip_per_day(tmp_path: Path, clock: FakeClock) -> None:
    store = Store(tmp_path / DB_FILENAME, clock=clock)
    subscribe_all(store, range(1, 11))
    telegram = FakeTelegram()
    runner = runner_for(store, telegram, clock)
    clock.set_local("2026-11-23 08:29")
    assert (await runner.tick()).claimed == 0
    clock.set_local("2026-11-23 08:30")
    result = await runner.tick()
    assert (result.claimed, result.sent) == (10, 10)
    for minute in range(31, 59):  # the rest of the hour: nothing more
        clock.set_local(f"2026-11-23 08:{minute}")
        assert (await runner.tick()).sent == 0
    clock.set_local("2026-11-24 08:30")
    assert (await runner.tick()).sent == 10
    assert telegram.per_chat() == {chat: 2 for chat in range(1, 11)}
    # Two days, two different tips per chat.
    for chat in range(1, 11):
        tips = [key for c, key in telegram.received if c == chat]
        assert len(set(tips)) == 2
    store.close()


async def test_tip_missed_while_down_is_sent_once_the_same_day_only(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / DB_FILENAME
    clock.set_local("2026-11-23 07:00")
    with Store(path, clock=clock) as store:
        subscribe_all(store, range(1, 3))
        store.subscribe(3, parse_time("23:00"), EVERY_DAY)
    # The bot is down from 07:00 until 15:00: chats 1-2 are owed today's 08:30 tip.
    clock.set_local("2026-11-23 15:00")
    with Store(path, clock=clock) as store:
        telegram = FakeTelegram()
        assert (await runner_for(store, telegram, clock).tick()).sent == 2
    # Down again from 15:00 until 01:00 the next day: chat 3's 23:00 slot is gone for good.
    clock.set_local("2026-11-24 01:00")
    with Store(path, clock=clock) as store:
        telegram = FakeTelegram()
        result = await runner_for(store, telegram, clock).tick()
        assert result.sent == 0 and telegram.received == []


async def test_restart_between_scheduling_and_delivery(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / DB_FILENAME
    clock.set_local("2026-11-23 06:00")
    with Store(path, clock=clock) as store:
        store.subscribe(1, parse_time("08:30"), WEEKDAYS)
        store.set_chat_timezone(1, "Asia/Makassar")  # UTC+8: 08:30 WITA is 07:30 WIB
    clock.set_local("2026-11-23 07:30")
    with Store(path, clock=clock) as store:  # a fresh process: everything from the database
        telegram = FakeTelegram()
        assert (await runner_for(store, telegram, clock).tick()).sent == 1
        assert store.subscription(1).last_date == date(2026, 11, 23)  # type: ignore[union-attr]


@pytest.mark.parametrize("crash_at", [1, 7, 20])
@pytest.mark.parametrize("where", ["before", "after"])
async def test_crash_mid_broadcast_then_restart_gives_exactly_one_tip_each(
    tmp_path: Path, clock: FakeClock, crash_at: int, where: str
) -> None:
    path = tmp_path / DB_FILENAME
    chats = range(1, 21)
    clock.set_local("2026-11-23 08:30")
    telegram = FakeTelegram()  # Telegram outlives the bot: one log of what users received
    setattr(telegram, f"crash_{where}", crash_at)
    with Store(path, clock=clock) as store:
        subscribe_all(store, chats)
        with pytest.raises(Crash):
            await runner_for(store, telegram, clock, workers=1).tick()
    setattr(telegram, f"crash_{where}", None)
    clock.set_local("2026-11-23 08:31")
    with Store(path, clock=clock) as store:
        runner = runner_for(store, telegram, clock)
        unknown = await runner.startup()
        await runner.tick()
        counts = telegram.per_chat()
        if where == "after":
            # Telegram got message n, the bot died before recording it: not resent.
            assert len(unknown) == 1 and all(counts.get(chat) == 1 for chat in chats)
        else:
            # Died after committing "sending" but before the request left: the one loss the
            # at-most-once choice accepts, and it is reported, never doubled.
            assert len(unknown) == 1
            assert max(counts.values()) == 1
            assert sorted(counts) == [c for c in chats if c != unknown[0].chat_id]
        assert sum(counts.values()) == len(set(telegram.received))


async def test_crash_before_sending_anything_loses_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Claimed (pending) but not yet sending: certainly unsent, so sent after restart."""
    path = tmp_path / DB_FILENAME
    clock.set_local("2026-11-23 08:30")
    with Store(path, clock=clock) as store:
        subscribe_all(store, range(1, 6))
        for s in store.subscriptions():
            store.claim_daily(s.chat_id, date(2026, 11, 23), DECK)
    with Store(path, clock=clock) as store:
        telegram = FakeTelegram()
        await runner_for(store, telegram, clock).tick()
        assert telegram.per_chat() == {chat: 1 for chat in range(1, 6)}


async def test_unreachable_chat_is_unsubscribed_and_429_is_retried(
    tmp_path: Path, clock: FakeClock
) -> None:
    with Store(tmp_path / DB_FILENAME, clock=clock) as store:
        subscribe_all(store, range(1, 6))
        telegram = FakeTelegram()
        telegram.gone = {2}
        telegram.rejected = {3}
        telegram.flood_once = {4}
        clock.set_local("2026-11-23 08:30")
        result = await runner_for(store, telegram, clock).tick()
        assert result.unsubscribed == [2] and result.retried == 1 and result.failed == 1
        assert telegram.per_chat() == {1: 1, 4: 1, 5: 1}
        assert store.subscription(2) is None
        assert store.subscription(3) is not None  # a bad message is our fault, not the chat's
        states = {d.chat_id: d.state for d in store.deliveries()}
        assert states == {1: "sent", 2: "failed", 3: "failed", 4: "sent", 5: "sent"}


async def test_changing_the_time_never_adds_a_second_tip(tmp_path: Path, clock: FakeClock) -> None:
    with Store(tmp_path / DB_FILENAME, clock=clock) as store:
        telegram = FakeTelegram()
        runner = runner_for(store, telegram, clock)
        clock.set_local("2026-11-23 07:00")
        store.subscribe(1, parse_time("08:30"), EVERY_DAY)
        store.subscribe(1, parse_time("08:00"), EVERY_DAY)  # /daily again: changed, not added
        assert len(store.subscriptions()) == 1
        clock.set_local("2026-11-23 08:00")
        assert (await runner.tick()).sent == 1
        store.subscribe(1, parse_time("09:00"), EVERY_DAY)  # later the same day
        clock.set_local("2026-11-23 09:00")
        assert (await runner.tick()).sent == 0
        assert telegram.per_chat() == {1: 1}


async def test_pacer_spaces_sends_evenly() -> None:
    pacer = Pacer(rate=200.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    stamps = []
    for _ in range(21):
        await pacer.acquire()
        stamps.append(loop.time() - start)
    assert stamps[-1] >= 20 / 200.0 * 0.95
    pacer.pause(0.05)
    before = loop.time()
    await pacer.acquire()
    assert loop.time() - before >= 0.045


async def test_unsubscribing_during_a_broadcast_cancels_the_unsent_tips(
    tmp_path: Path, clock: FakeClock
) -> None:
    with Store(tmp_path / DB_FILENAME, clock=clock) as store:
        subscribe_all(store, range(1, 4))
        clock.set_local("2026-11-23 08:30")
        for s in store.subscriptions():
            store.claim_daily(s.chat_id, date(2026, 11, 23), DECK)
        store.unsubscribe(2)  # /daily off while the broadcast is queued
        telegram = FakeTelegram()
        await runner_for(store, telegram, clock).tick()
        assert telegram.per_chat() == {1: 1, 3: 1}
        assert {d.chat_id: d.state for d in store.deliveries()}[2] == "cancelled"


class LimitedTelegram(FakeTelegram):
    """A `send` that first waits in a stand-in for the rate limiter and reports the instant
    its request leaves it (`runner.handed_over`), as the Telegram layer does. Requests to the
    chats in `held` wait there until the process dies; `crash_after_handover` kills it just
    after that report for the message numbered so, before the request goes out."""

    def __init__(self) -> None:
        super().__init__()
        self.runner: DeliveryRunner | None = None
        self.held: set[int] = set()
        self.waiting: set[int] = set()
        self.crash_after_handover: int | None = None

    async def send(self, delivery: Delivery) -> int:
        assert self.runner is not None
        if delivery.chat_id in self.held:
            self.waiting.add(delivery.chat_id)
            await asyncio.Event().wait()  # the group's quota is spent: held for good
        await self.runner.handed_over(delivery)
        after = self.crash_after_handover
        if after is not None and len(self.received) + 1 >= after:
            raise Crash("killed after the handover was recorded, before the request left")
        return await super().send(delivery)


async def test_crash_while_a_tip_waits_in_the_rate_limiter_loses_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Claimed but never handed to Telegram (still in the limiter) when the process died:
    `queued`, so it is sent after the restart, exactly once."""
    path = tmp_path / DB_FILENAME
    chats = range(1, 21)
    clock.set_local("2026-11-23 08:30")
    telegram = LimitedTelegram()
    telegram.held = {7, 13}
    with Store(path, clock=clock) as store:
        subscribe_all(store, chats)
        runner = runner_for(store, telegram, clock, workers=4, send_marks_handover=True)
        telegram.runner = runner
        tick = asyncio.create_task(runner.tick())

        def unsent() -> dict[int, str]:
            return {d.chat_id: d.state for d in store.deliveries() if d.state != "sent"}

        # Settled: 18 taken by Telegram and recorded as sent (a loaded machine may take a
        # moment between the two), the other two waiting in the limiter.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while (
                    len(telegram.received) < 18
                    or telegram.waiting != {7, 13}
                    or unsent() != {7: "queued", 13: "queued"}
                ):
                    await asyncio.sleep(0.001)
        assert unsent() == {7: "queued", 13: "queued"}
        tick.cancel()  # the process dies while both wait in the limiter
        with pytest.raises(asyncio.CancelledError):
            await tick
    telegram.held = set()
    clock.set_local("2026-11-23 08:31")
    with Store(path, clock=clock) as store:
        runner = runner_for(store, telegram, clock, send_marks_handover=True)
        telegram.runner = runner
        assert await runner.startup() == []
        assert (await runner.tick()).sent == 2
        assert (await runner.tick()).sent == 0
        assert store.delivery_counts() == {"sent": 20}
    assert telegram.per_chat() == {chat: 1 for chat in chats}


async def test_crash_after_the_handover_is_at_most_once(tmp_path: Path, clock: FakeClock) -> None:
    """Once the request left the limiter the tip may have reached Telegram: `unknown` after a
    restart, reported and not resent (the module docstring's at-most-once window)."""
    path = tmp_path / DB_FILENAME
    clock.set_local("2026-11-23 08:30")
    telegram = LimitedTelegram()
    telegram.crash_after_handover = 3
    with Store(path, clock=clock) as store:
        subscribe_all(store, range(1, 6))
        runner = runner_for(store, telegram, clock, workers=1, send_marks_handover=True)
        telegram.runner = runner
        with pytest.raises(Crash):
            await runner.tick()
    telegram.crash_after_handover = None
    with Store(path, clock=clock) as store:
        runner = runner_for(store, telegram, clock, send_marks_handover=True)
        telegram.runner = runner
        (unknown,) = await runner.startup()
        await runner.tick()
        assert store.delivery_counts() == {"sent": 4, "unknown": 1}
    assert telegram.per_chat() == {c: 1 for c in range(1, 6) if c != unknown.chat_id}


async def test_a_migrated_group_gets_no_second_tip_the_same_day(
    tmp_path: Path, clock: FakeClock
) -> None:
    with Store(tmp_path / DB_FILENAME, clock=clock) as store:
        store.subscribe(-1, parse_time("08:30"), EVERY_DAY)
        telegram = FakeTelegram()
        runner = runner_for(store, telegram, clock)
        clock.set_local("2026-11-23 08:30")
        assert (await runner.tick()).sent == 1
        store.move_chat(-1, -1001)  # the group became a supergroup after its tip
        clock.set_local("2026-11-23 09:00")
        assert (await runner.tick()).claimed == 0
        clock.set_local("2026-11-24 08:30")
        assert (await runner.tick()).sent == 1
        assert telegram.per_chat() == {-1: 1, -1001: 1}
