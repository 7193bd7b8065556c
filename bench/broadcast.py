"""Benchmark: N chats whose daily tip is due at the same minute, through the fake Bot API server
with Telegram's flood limits switched on (30 msg/s overall, 20/min per group, ~1/s per chat).

It runs the production path: `build_application` (AIORateLimiter included), the team module's
`DeliveryRunner` pacing, the SQLite delivery log in a temporary directory. It prints the time to
deliver all, tips per second against Telegram's 30/s ceiling (goal >= 0.9 of it), the 429s the
server answered (goal 0) and the lost and doubled tips (must be 0). A share of the chats
(`--quizzes`, half by default) has the daily quiz instead (`/daily 08:30 quiz`): a quiz poll,
recorded in the store, in the same delivery log and the same pacing.

    .venv/bin/python bench/broadcast.py [--chats 1000] [--groups 0.3] [--quizzes 0.5] [--rate 29]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakebot import FakeTelegram, FloodLimits  # noqa: E402

from bot.chat.services import Services, build_core  # noqa: E402
from bot.leads.schedule import EVERY_DAY  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.storage.store import DB_FILENAME, Store  # noqa: E402
from bot.transports.telegram.app import build_application  # noqa: E402
from bot.transports.telegram.team import Team  # noqa: E402

TELEGRAM_CEILING = 30.0  # messages per second, all chats together


async def run(chats: int, group_share: float, rate: float, quiz_share: float) -> dict[str, float]:
    due = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 08:30 in Jakarta
    async with FakeTelegram(limits=FloodLimits()) as fake:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                token=fake.token, api_base_url=fake.base_url, data_dir=Path(data_dir)
            )
            core = build_core(settings)
            subscribed_at = [datetime(2026, 11, 22, tzinfo=UTC)]
            store = Store(Path(data_dir) / DB_FILENAME, clock=lambda: subscribed_at[0])
            groups = round(chats * group_share)
            chat_ids = [-1_000_000 - i for i in range(groups)] + [
                10_000 + i for i in range(chats - groups)
            ]
            for number, chat_id in enumerate(chat_ids):
                store.subscribe(chat_id, clock_time(8, 30), EVERY_DAY)
                if number % 1000 < quiz_share * 1000:
                    store.set_daily_mode(chat_id, "quiz")
            subscribed_at[0] = due
            services = Services(settings, core.kb, core.matcher, core.replies, store)
            app = build_application(services)
            team: Team = app.bot_data["kisah_team"]
            team.runner.pacer.interval = 1.0 / rate
            for job in app.job_queue.jobs():  # type: ignore[union-attr]
                job.schedule_removal()  # the benchmark drives the tick itself
            async with app:
                started = time.perf_counter()
                result = await team.runner.tick()
                elapsed = time.perf_counter() - started
            store.close()
        per_chat = Counter(s.chat_id for s in fake.sent)
        sends = [s.at for s in fake.sent]
        spread = max(sends) - min(sends) if len(sends) > 1 else 0.0
        return {
            "chats": chats,
            "groups": groups,
            "claimed": result.claimed,
            "sent": result.sent,
            "seconds": elapsed,
            "tips_per_second": (len(sends) - 1) / spread if spread else 0.0,
            "status_429": fake.status_count(429),
            "retried": result.retried,
            "quizzes": sum(1 for s in fake.sent if s.method == "sendPoll"),
            "lost": sum(1 for chat_id in chat_ids if per_chat[chat_id] == 0),
            "doubled": sum(1 for chat_id in chat_ids if per_chat[chat_id] > 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--groups", type=float, default=0.3, help="share of group chats")
    parser.add_argument("--rate", type=float, default=29.0, help="pacing, messages/second")
    parser.add_argument("--quizzes", type=float, default=0.5, help="share of daily quizzes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    figures = asyncio.run(run(args.chats, args.groups, args.rate, args.quizzes))
    ratio = figures["tips_per_second"] / TELEGRAM_CEILING
    print(f"chats due at the same minute : {figures['chats']} ({figures['groups']} groups)")
    print(f"of which quiz polls          : {figures['quizzes']}")
    print(f"time to deliver all          : {figures['seconds']:.1f} s")
    print(
        f"tips per second              : {figures['tips_per_second']:.1f} "
        f"= {ratio:.2f} of Telegram's {TELEGRAM_CEILING:.0f}/s ceiling (goal >= 0.90)"
    )
    print(f"429 answers received         : {figures['status_429']} (goal 0)")
    print(f"lost tips                    : {figures['lost']} (must be 0)")
    print(f"doubled tips                 : {figures['doubled']} (must be 0)")
    ok = (
        ratio >= 0.9
        and figures["status_429"] == 0
        and figures["lost"] == 0
        and figures["doubled"] == 0
    )
    print("RESULT:", "OK" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
