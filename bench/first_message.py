"""Benchmark: how long is the first message of an answer, as Telegram delivers it?

Issue 17's budget: a salesperson reads the first message in one glance, so it is at most 90
words at the median and 120 at the 90th percentile, in both languages, on long situations,
keywords and lesson questions alike. This script asks every in-scope question of the labelled
sets in `eval/` through the real Application against the fake Bot API server (the same code
path as production, rate limiter off), one new private chat per question, and counts the words
of the first message whenever a story is told (the reply carries the "full story" button).
The baseline, measured in the same run on the same answers, is the complete retelling the
"full story" button opens (what an answer led with before issue 17): the ratio says how much
of it the first message now asks a reader to get through.

A word is what a reader reads: emoji and bullets are not words (`evaluation.word_count`).

    .venv/bin/python bench/first_message.py [FILE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakebot import FakeTelegram, Sent  # noqa: E402

from bot.chat.services import build_services  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.tools.evaluation import EvalItem, load_items, word_count  # noqa: E402
from bot.transports.telegram.app import build_application  # noqa: E402
from bot.transports.telegram.runner import serve  # noqa: E402

MEDIAN_GOAL = 90
P90_GOAL = 120
FULL_STORY = "f:"  # callback data of the "full story" button: a story was told
# The issue names three kinds of message; the eval files' finer kinds fold into them.
GROUPS = {
    # long situations in every register, voice notes typed out, code-mixed
    "long": ("long", "voice", "code-mixed"),
    "keyword": ("keyword", "short", "mixed-short"),  # keywords and short questions
    "lesson question": ("lesson",),
}


def group_of(kind: str) -> str:
    for group, prefixes in GROUPS.items():
        if kind.startswith(prefixes):
            return group
    return "(no kind)"


def p90(values: Sequence[int]) -> int:
    """Nearest-rank 90th percentile, as `eval` prints it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


async def first_and_full(
    fake: FakeTelegram, number: int, item: EvalItem
) -> tuple[Sent, Sent | None]:
    """Ask `item` in a new private chat; the first message, and the full story it opens."""
    user = fake.user(10_000 + number, language_code=item.lang)
    chat = fake.private_chat(user)
    fake.send_text(chat, user, item.question)
    [first] = (await fake.wait_sent(1, chat.id, timeout=30))[:1]
    data = next((d for d in first.button_data if d.startswith(FULL_STORY)), None)
    if data is None:
        return first, None
    fake.press(first, data=data, user=user)
    sent = await fake.wait_sent(2, chat.id, timeout=30)
    return first, sent[1]


async def measure(items: list[EvalItem]) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(language, group) -> (first message words, full story words) of each told answer."""
    counts: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    async with FakeTelegram(limits=None) as fake:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                token=fake.token, api_base_url=fake.base_url, data_dir=Path(data_dir)
            )
            services = build_services(settings)
            stop = asyncio.Event()
            task = asyncio.create_task(
                serve(build_application(services, rate_limit=False), settings, stop=stop)
            )
            try:
                await fake.wait_until(lambda: fake.get_updates_calls > 0, 60, "the bot to poll")
                for number, item in enumerate(items):
                    first, full = await first_and_full(fake, number, item)
                    if full is not None:
                        key = (item.lang, group_of(item.kind or ""))
                        counts[key].append((word_count(first.text), word_count(full.text)))
            finally:
                stop.set()
                await task
                services.close()
    return counts


def report(counts: dict[tuple[str, str], list[tuple[int, int]]]) -> list[str]:
    lines = [
        f"{'language':9}{'kind':17}{'n':>5}{'median':>8}{'p90':>6}{'max':>6}"
        f"{'full story median':>19}{'ratio':>7}"
    ]
    met = True
    for lang in sorted({lang for lang, _ in counts}):
        rows = [(g, v) for (lg, g), v in sorted(counts.items()) if lg == lang]
        rows.append(("all", [pair for _, v in rows for pair in v]))
        for group, pairs in rows:
            first = [f for f, _ in pairs]
            full = [w for _, w in pairs]
            median, full_median = statistics.median(first), statistics.median(full)
            lines.append(
                f"{lang:9}{group:17}{len(pairs):5d}{median:8.0f}{p90(first):6d}{max(first):6d}"
                f"{full_median:19.0f}{median / full_median:7.2f}"
            )
            if group == "all":
                met = met and median <= MEDIAN_GOAL and p90(first) <= P90_GOAL
    verdict = "met" if met else "NOT met"
    lines.append(f"goal (median <= {MEDIAN_GOAL}, p90 <= {P90_GOAL}, each language) {verdict}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "files", nargs="*", type=Path, help="labelled question files (default: eval/*.yaml)"
    )
    args = parser.parse_args(argv)
    files = args.files or sorted((ROOT / "eval").glob("*.yaml"))
    items = [item for path in files for item in load_items(path) if item.expect]
    logging.basicConfig(level=logging.WARNING)
    counts = asyncio.run(measure(items))
    print(f"in-scope questions asked   {len(items)} from {len(files)} files")
    print(f"stories told               {sum(len(v) for v in counts.values())}")
    print("\n".join(report(counts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
