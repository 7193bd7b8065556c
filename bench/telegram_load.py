"""Benchmark: many salespeople asking at once, through Telegram's wire format.

The bot runs as its own process (the production path: `build_services`, `build_application`,
`serve`, long polling, SQLite recording), with the rate limiter OFF so that the figure is the
bot's own processing, not Telegram's flood limits. This process runs the fake Bot API server
(flood control off too), injects `--users` questions at the same instant, and times each
answer from injection to the moment the bot's sendMessage reaches the server.

Printed: replies per second (wall clock, end to end), p50/p99 reply latency, the bot
process's CPU time per reply (its capacity if it had a core to itself), and both as a
multiple of Telegram's 30 messages/s broadcast ceiling (goal: >= 10x on 2 cores).

`--baseline` then runs a bare python-telegram-bot echo bot (stock `ApplicationBuilder`,
concurrent updates, same event loop, no rate limiter) through the same workload in the same
run, with its own fake server, and prints its CPU per reply: the floor that any PTB bot pays
for polling, parsing and sending on this machine, so Kisah's own share is the difference.
The machine may be shared, so compare runs made together, not runs made hours apart.

    .venv/bin/python bench/telegram_load.py [--users 200] [--rounds 5] [--baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakebot import FakeTelegram  # noqa: E402

from bot.settings import Settings  # noqa: E402

TELEGRAM_CEILING = 30.0  # messages per second, all chats together
GOAL = 10.0  # the bot's own processing should be this many times the ceiling
QUESTIONS = (
    "customer ngancam gak mau kerjasama lagi",
    "gimana kalo klien marah2 minta dateng besok padahal gw sibuk",
    "cust penting susah bgt dideketin, ada tips?",
    "lupa proses pesanan customer, gmn minta maafnya",
    "teknisi kita di lokasi customer sering bolos",
    "how do I win back an official who ignores us?",
    "the client threatens to end the contract",
    "customer ulang tahun, perlu kasih kado gak?",
    "I forgot a customer's order, how do I apologise?",
    "resep nasi goreng yang enak",  # out of scope: the honest "no story" path
    "😀🙏",
    "pelanggan prioritas mau pindah ke kompetitor",
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def serve_bot(base_url: str, data_dir: str) -> None:
    """The child process: the real bot, rate limiter off, until SIGTERM."""
    from fakebot import DEFAULT_TOKEN

    from bot.chat.services import build_services
    from bot.transports.telegram.app import build_application
    from bot.transports.telegram.runner import serve

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(token=DEFAULT_TOKEN, api_base_url=base_url, data_dir=Path(data_dir))
    services = build_services(settings)
    try:
        await serve(build_application(services, rate_limit=False), settings)
    finally:
        services.close()


async def serve_echo(base_url: str) -> None:
    """The baseline child: the plainest PTB bot that answers every text, until SIGTERM."""
    from fakebot import DEFAULT_TOKEN
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "?")

    logging.basicConfig(level=logging.WARNING)
    application = (
        ApplicationBuilder().token(DEFAULT_TOKEN).base_url(base_url).concurrent_updates(True)
    ).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(timeout=30)
        await application.start()
        await stop.wait()
        await application.updater.stop()
        await application.stop()


async def ask_round(fake: FakeTelegram, users: int, first_id: int, offset: int) -> list[float]:
    """Inject one question per user at the same instant; latency of each reply in seconds."""
    sent_before = len(fake.sent)
    start = time.monotonic()
    for i in range(users):
        user = fake.user(first_id + i, language_code="id")
        fake.send_text(fake.private_chat(user), user, QUESTIONS[(i + offset) % len(QUESTIONS)])
    replies = (await fake.wait_sent(sent_before + users, timeout=120))[sent_before:]
    first_reply: dict[int, float] = {}
    for reply in replies:
        first_reply.setdefault(reply.chat_id, reply.at - start)
    assert len(first_reply) == users, "every user gets exactly one answer"
    return list(first_reply.values())


async def run(users: int, rounds: int, *, echo: bool = False) -> dict[str, float]:
    """Measure the bot (or, with `echo`, the bare PTB baseline) under the workload."""
    async with FakeTelegram(limits=None) as fake:
        with tempfile.TemporaryDirectory() as data_dir:
            url = fake.base_url
            serve = ("--serve-echo", url) if echo else ("--serve", url, data_dir)
            child = await asyncio.create_subprocess_exec(sys.executable, __file__, *serve)
            try:
                await fake.wait_until(lambda: fake.get_updates_calls > 0, 60, "the bot to poll")
                await ask_round(fake, 20, 1, 0)  # warm-up: first calls, thread pool, caches
                cpu_before = cpu_seconds(child.pid)
                latencies: list[float] = []
                wall = 0.0
                for number in range(rounds):
                    # New users each round, so no chat ever sees two questions at once.
                    round_latencies = await ask_round(fake, users, 100_000 * (number + 1), number)
                    latencies.extend(round_latencies)
                    wall += max(round_latencies)
                cpu = cpu_seconds(child.pid) - cpu_before
            finally:
                child.send_signal(signal.SIGTERM)
                await child.wait()
    total = users * rounds
    return {
        "replies": total,
        "replies_per_s": total / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "cpu_ms_per_reply": cpu / total * 1000,
        "cpu_capacity_per_s": total / cpu if cpu else float("inf"),
        "child_exit": float(child.returncode or 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--baseline", action="store_true", help="also measure a bare PTB echo bot, same run"
    )
    parser.add_argument(
        "--serve", nargs=2, metavar=("BASE_URL", "DATA_DIR"), help=argparse.SUPPRESS
    )
    parser.add_argument("--serve-echo", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve or args.serve_echo:
        # The event loop production runs on (`run_bot`).
        from bot.transports.telegram.runner import run_event_loop

        run_event_loop(serve_bot(*args.serve) if args.serve else serve_echo(args.serve_echo))
        return 0
    result = asyncio.run(run(args.users, args.rounds))
    rate = result["replies_per_s"]
    capacity = result["cpu_capacity_per_s"]
    print(f"cores available            {os.cpu_count()}")
    print(f"users at once x rounds     {args.users} x {args.rounds} = {result['replies']:.0f}")
    print(
        f"replies per second         {rate:.0f}  ({rate / TELEGRAM_CEILING:.1f}x the 30/s ceiling)"
    )
    print(f"reply latency p50 / p99    {result['p50_ms']:.0f} ms / {result['p99_ms']:.0f} ms")
    print(
        f"bot CPU per reply          {result['cpu_ms_per_reply']:.2f} ms  "
        f"(capacity {capacity:.0f}/s = {capacity / TELEGRAM_CEILING:.1f}x the ceiling)"
    )
    print(f"bot exit status            {result['child_exit']:.0f}")
    met = "met" if capacity >= GOAL * TELEGRAM_CEILING else "NOT met"
    print(f"goal (bot >= {GOAL:.0f}x the ceiling) {met}")
    if args.baseline:
        echo = asyncio.run(run(args.users, args.rounds, echo=True))
        own = result["cpu_ms_per_reply"] - echo["cpu_ms_per_reply"]
        print(
            f"bare PTB echo bot, same run {echo['cpu_ms_per_reply']:.2f} ms CPU per reply, "
            f"{echo['replies_per_s']:.0f} replies/s"
        )
        print(f"Kisah's own work per reply  {own:.2f} ms (bot minus echo)")
        if echo["child_exit"] != 0:
            return 1
    return 0 if result["child_exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
